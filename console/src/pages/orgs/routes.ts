import type { RouteDef } from "../../routes";

export const orgsRoutes: RouteDef[] = [];
