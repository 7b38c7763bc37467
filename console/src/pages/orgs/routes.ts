import type { RouteDef } from "../../routes";
import { Invitations } from "./Invitations";
import { Org } from "./Org";
import { Orgs } from "./Orgs";

export const orgsRoutes: RouteDef[] = [
  { path: "/orgs", component: Orgs, access: "user", nav: "Organizations" },
  { path: "/orgs/:org_id", component: Org, access: "user" },
  { path: "/invitations", component: Invitations, access: "user", nav: "Invitations" },
  // The link of the invitation mail (shared/src/notifications.rs): `{app}/invitations/{invitation_id}`.
  { path: "/invitations/:invitation_id", component: Invitations, access: "user" },
];
