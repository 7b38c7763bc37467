import type { RouteDef } from "../../routes";

export const adminRoutes: RouteDef[] = [];
