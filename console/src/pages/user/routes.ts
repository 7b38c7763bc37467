import type { RouteDef } from "../../routes";

export const userRoutes: RouteDef[] = [];
