import type { RouteDef } from "../../routes";
import { PartnerAnalytics } from "./Analytics";
import { PartnerApiKeys } from "./ApiKeys";
import { PartnerApply, PartnerHome } from "./Home";
import { PartnerOverview } from "./Overview";
import { PartnerRevenue } from "./Revenue";
import { PartnerSolutionPage } from "./Solution";
import { NewSolution, PartnerSolutions } from "./Solutions";

// Signed-in users: each page decides by the caller's partner organizations (GET /api/orgs) and the API's answers.
export const partnerRoutes: RouteDef[] = [
  { path: "/partner", component: PartnerHome, access: "user", nav: "Partner" },
  { path: "/partner/apply", component: PartnerApply, access: "user" },
  { path: "/partner/:partner_id", component: PartnerOverview, access: "user" },
  { path: "/partner/:partner_id/solutions", component: PartnerSolutions, access: "user" },
  { path: "/partner/:partner_id/solutions/new", component: NewSolution, access: "user" },
  { path: "/partner/:partner_id/solutions/:solution_id", component: PartnerSolutionPage, access: "user" },
  { path: "/partner/:partner_id/api-keys", component: PartnerApiKeys, access: "user" },
  { path: "/partner/:partner_id/analytics", component: PartnerAnalytics, access: "user" },
  { path: "/partner/:partner_id/revenue", component: PartnerRevenue, access: "user" },
];
