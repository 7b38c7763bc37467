import { lazy } from "preact-iso";
import type { RouteDef } from "../../routes";

// Each page is its own chunk, loaded when first visited (the charts library only with the pages that draw).
const Invitations = lazy(() => import("./Invitations").then((m) => m.Invitations));
const Org = lazy(() => import("./Org").then((m) => m.Org));
const Orgs = lazy(() => import("./Orgs").then((m) => m.Orgs));

export const orgsRoutes: RouteDef[] = [
  { path: "/orgs", component: Orgs, access: "user", nav: "Organizations" },
  { path: "/orgs/:org_id", component: Org, access: "user" },
  { path: "/invitations", component: Invitations, access: "user", nav: "Invitations" },
  // The link of the invitation mail (shared/src/notifications.rs): `{app}/invitations/{invitation_id}`.
  { path: "/invitations/:invitation_id", component: Invitations, access: "user" },
];
