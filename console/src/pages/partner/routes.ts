import { lazy } from "preact-iso";
import type { RouteDef } from "../../routes";

// Each page is its own chunk, loaded when first visited (the charts library only with the pages that draw).
const PartnerAnalytics = lazy(() => import("./Analytics").then((m) => m.PartnerAnalytics));
const PartnerApiKeys = lazy(() => import("./ApiKeys").then((m) => m.PartnerApiKeys));
const PartnerApply = lazy(() => import("./Home").then((m) => m.PartnerApply));
const PartnerHome = lazy(() => import("./Home").then((m) => m.PartnerHome));
const PartnerOverview = lazy(() => import("./Overview").then((m) => m.PartnerOverview));
const PartnerRevenue = lazy(() => import("./Revenue").then((m) => m.PartnerRevenue));
const PartnerSolutionPage = lazy(() => import("./Solution").then((m) => m.PartnerSolutionPage));
const NewSolution = lazy(() => import("./Solutions").then((m) => m.NewSolution));
const PartnerSolutions = lazy(() => import("./Solutions").then((m) => m.PartnerSolutions));

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
