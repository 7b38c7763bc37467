import type { RouteDef } from "../../routes";

export const partnerRoutes: RouteDef[] = [];
