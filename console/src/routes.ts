// What a route of the console is. Each area (user, partner, admin, organizations) lists its own routes in
// pages/<area>/routes.ts; app.tsx puts them together and guards them by who may see them.
import type { ComponentType } from "preact";

export type Access =
  /** Anyone (sign in, sign up, the links sent by mail that work without a session). */
  | "public"
  /** A signed-in user. */
  | "user"
  /** A signed-in admin. */
  | "admin";

export interface RouteDef {
  /** A preact-iso path: `/billing`, `/orgs/:org_id`. */
  path: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  component: ComponentType<any>;
  access: Access;
  /** Shown in the navigation under this label (top-level pages only). */
  nav?: string;
}
