// What the organization pages share: the roles (what each may do, which ones an organization kind has), their
// labels, and the API's refusals told in words (a 403 `org_role_required` names the roles that may do it).
import { ApiError, type components } from "@monetization/sdk";
import { ProblemAlert, Select } from "../../ui/components";

export type OrgRole = components["schemas"]["OrgRole"];
export type OrgKind = components["schemas"]["OrgKind"];
export type MemberView = components["schemas"]["MemberView"];
export type InvitationView = components["schemas"]["InvitationView"];

export const ROLE_LABELS: Record<OrgRole, string> = {
  owner: "Owner",
  admin: "Admin",
  developer: "Developer",
  finance: "Finance",
  member: "Member",
};

export const KIND_LABELS: Record<OrgKind, string> = {
  personal: "Personal",
  team: "Team",
  partner: "Partner",
};

export function roleList(roles: readonly string[]): string {
  const names = roles.map((r) => ROLE_LABELS[r as OrgRole]?.toLowerCase() ?? r);
  return names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

/** The roles an organization of this kind has (`developer` and `finance` only in partner organizations). */
export function rolesOf(kind: OrgKind): OrgRole[] {
  return kind === "partner" ? ["owner", "admin", "developer", "finance", "member"] : ["owner", "admin", "member"];
}

/** Owners and admins manage members and invitations. */
export function managesMembers(role: OrgRole): boolean {
  return role === "owner" || role === "admin";
}

/**
 * The roles the caller may give (by invitation or a change of role): only an owner gives `owner`; admins the
 * others. None in a personal organization (one member, no invitations).
 */
export function grantableRoles(kind: OrgKind, myRole: OrgRole): OrgRole[] {
  if (kind === "personal" || !managesMembers(myRole)) return [];
  return rolesOf(kind).filter((r) => r !== "owner" || myRole === "owner");
}

/** Whether the caller may change the role of, or remove, this member (not themselves: leaving is separate). */
export function mayManage(myRole: OrgRole, target: OrgRole): boolean {
  if (!managesMembers(myRole)) return false;
  return target !== "owner" || myRole === "owner";
}

/** An API refusal, its title saying which roles may do it when the API names them (403 `org_role_required`). */
export function OrgProblem(props: { error: unknown; title?: string }) {
  const err = props.error;
  let title = props.title;
  if (err instanceof ApiError && err.code === "org_role_required") {
    const required = (err.problem as { required_roles?: string[] }).required_roles ?? [];
    title = required.length
      ? `Your role does not allow this: only ${roleList(required)} may do it`
      : "Your role does not allow this";
  }
  return <ProblemAlert error={err} title={title} />;
}

/** The caller's role, in words (never a colour alone). */
export function RoleBadge(props: { role: OrgRole }) {
  return <span class={`badge badge-role badge-role-${props.role}`}>{ROLE_LABELS[props.role]}</span>;
}

/** A labelled choice among `roles`. */
export function RoleSelect(props: {
  label: string;
  name: string;
  value: OrgRole;
  onChange: (role: OrgRole) => void;
  roles: OrgRole[];
  error?: string;
}) {
  return (
    <Select
      label={props.label}
      name={props.name}
      value={props.value}
      onChange={(v) => props.onChange(v as OrgRole)}
      options={props.roles.map((r) => ({ value: r, label: ROLE_LABELS[r] }))}
      error={props.error}
    />
  );
}
