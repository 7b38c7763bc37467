// `/orgs/:org_id`: one organization — its name (owners rename it), its members and their roles (owners and
// admins change roles and remove members; anyone leaves), its invitations (owners and admins), and the transfer
// of ownership (owners). Controls the caller's role does not allow are not shown; when the API refuses anyway
// (the role changed meanwhile), its problem is shown as it answered.
import { useLocation, useRoute } from "preact-iso";
import { useState } from "preact/hooks";
import { api, reloadSession, useSession, type OrgView } from "../../session";
import {
  Button,
  ConfirmButton,
  DateTime,
  Field,
  LoadState,
  Notice,
  Page,
  Section,
  Select,
  StatusBadge,
  Table,
  fieldErrors,
} from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import {
  KIND_LABELS,
  OrgProblem,
  ROLE_LABELS,
  RoleBadge,
  RoleSelect,
  grantableRoles,
  managesMembers,
  mayManage,
  type InvitationView,
  type MemberView,
  type OrgRole,
} from "./common";

export function Org() {
  const { params } = useRoute();
  const orgId = params["org_id"] ?? "";
  const org = useLoad(() => api.request("get", "/api/orgs/{org_id}", { path: { org_id: orgId } }), [orgId]);
  return (
    <Page title={org.data?.name ?? "Organization"}>
      <LoadState loaded={org} label="the organization">
        {(o) => <OrgBody org={o} reloadOrg={org.reload} />}
      </LoadState>
    </Page>
  );
}

function OrgBody(props: { org: OrgView; reloadOrg: () => void }) {
  const { org } = props;
  const orgId = org.org_id;
  const members = useLoad(
    () => api.request("get", "/api/orgs/{org_id}/members", { path: { org_id: orgId } }).then((l) => l.members),
    [orgId],
  );
  const changed = async (sessionToo = false) => {
    props.reloadOrg();
    members.reload();
    if (sessionToo) await reloadSession();
  };
  const personal = org.kind === "personal";
  return (
    <>
      <dl class="org-facts">
        <div>
          <dt>Kind</dt>
          <dd>{KIND_LABELS[org.kind]}</dd>
        </div>
        <div>
          <dt>Your role</dt>
          <dd>
            <RoleBadge role={org.role} />
          </dd>
        </div>
        <div>
          <dt>Members</dt>
          <dd>{org.member_count}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>
            <DateTime value={org.created_at} date />
          </dd>
        </div>
      </dl>
      {personal && (
        <Notice>
          This is your personal organization: your own account, with you as its only member. It takes no
          invitations. To share subscriptions and a quota with others, <a href="/orgs">create a team</a>.
        </Notice>
      )}
      {org.kind === "partner" && (
        <p class="muted">
          A partner organization: developers manage solutions and API keys, finance sees revenue and payouts.
        </p>
      )}
      {org.role === "owner" && <Rename org={org} onDone={() => void changed(true)} />}
      <Section title="Members">
        <LoadState loaded={members} label="the members">
          {(list) => <Members org={org} members={list} onChanged={changed} />}
        </LoadState>
      </Section>
      {!personal && managesMembers(org.role) && <Invitations org={org} />}
      {!personal && org.role === "owner" && members.data && (
        <Transfer org={org} members={members.data} onDone={() => void changed(true)} />
      )}
    </>
  );
}

function Rename(props: { org: OrgView; onDone: () => void }) {
  const [name, setName] = useState(props.org.name);
  const rename = useAction(async () => {
    const org = await api.request("patch", "/api/orgs/{org_id}", {
      path: { org_id: props.org.org_id },
      body: { name: name.trim() },
    });
    props.onDone();
    return org;
  });
  const errors = fieldErrors(rename.error);
  return (
    <Section title="Name">
      <form
        class="narrow"
        onSubmit={(e) => {
          e.preventDefault();
          void rename.run();
        }}
      >
        <Field
          label="Organization name"
          name="name"
          required
          maxLength={100}
          value={name}
          onInput={(v) => {
            setName(v);
            if (rename.result) rename.reset();
          }}
          error={errors["name"]}
        />
        <OrgProblem error={rename.error} title="Could not rename the organization" />
        {rename.result && <Notice kind="success">Renamed to {rename.result.name}.</Notice>}
        <Button type="submit" kind="primary" pending={rename.pending} disabled={name.trim() === props.org.name}>
          Rename
        </Button>
      </form>
    </Section>
  );
}

function Members(props: { org: OrgView; members: MemberView[]; onChanged: (sessionToo?: boolean) => Promise<void> }) {
  const { org, members } = props;
  const s = useSession();
  const { route } = useLocation();
  const me = s.context?.user.user_id;
  const [problem, setProblem] = useState<unknown>();
  const [notice, setNotice] = useState("");
  const owners = members.filter((m) => m.role === "owner").length;
  const lastOwner = org.role === "owner" && owners <= 1;
  const roles = grantableRoles(org.kind, org.role);
  const display = (m: MemberView) => m.name || m.email || m.user_id;

  const remove = async (m: MemberView) => {
    setProblem(undefined);
    await api.request("delete", "/api/orgs/{org_id}/members/{user_id}", {
      path: { org_id: org.org_id, user_id: m.user_id },
    });
    if (m.user_id === me) {
      await reloadSession();
      route("/orgs");
      return;
    }
    setNotice(`${display(m)} is no longer a member.`);
    await props.onChanged();
  };

  return (
    <>
      {notice && <Notice kind="success">{notice}</Notice>}
      <OrgProblem error={problem} title="Could not change the role" />
      <Table<MemberView>
        caption={`Members of ${org.name}`}
        rows={members}
        rowKey={(m) => m.user_id}
        columns={[
          {
            header: "Name",
            cell: (m) => (
              <>
                {m.name || "(deleted account)"}
                {m.user_id === me && <span class="muted"> (you)</span>}
              </>
            ),
          },
          { header: "Email", cell: (m) => m.email || "—" },
          {
            header: "Role",
            cell: (m) =>
              m.user_id !== me && mayManage(org.role, m.role) && roles.length > 0 ? (
                <RoleCell
                  org={org}
                  member={m}
                  name={display(m)}
                  roles={roles.includes(m.role) ? roles : [m.role, ...roles]}
                  onError={setProblem}
                  onDone={(role) => {
                    setProblem(undefined);
                    setNotice(`${display(m)} is now ${ROLE_LABELS[role].toLowerCase()}.`);
                    void props.onChanged();
                  }}
                />
              ) : (
                <RoleBadge role={m.role} />
              ),
          },
          { header: "Joined", cell: (m) => <DateTime value={m.joined_at} date /> },
          {
            header: "Actions",
            cell: (m) =>
              m.user_id === me ? (
                org.kind === "personal" ? (
                  <span class="muted">—</span>
                ) : lastOwner ? (
                  <span class="muted">Transfer ownership before leaving</span>
                ) : (
                  <ConfirmButton
                    label="Leave"
                    title={`Leave ${org.name}?`}
                    description={<p>You lose access to its subscriptions at once; to come back you need a new invitation.</p>}
                    confirmLabel="Leave organization"
                    kind="danger"
                    onConfirm={() => remove(m)}
                  />
                )
              ) : mayManage(org.role, m.role) ? (
                <ConfirmButton
                  label="Remove"
                  title={`Remove ${display(m)} from ${org.name}?`}
                  description={<p>Their access through this organization ends at once (their tokens for it stop working).</p>}
                  confirmLabel="Remove member"
                  kind="danger"
                  onConfirm={() => remove(m)}
                />
              ) : (
                <span class="muted">—</span>
              ),
          },
        ]}
      />
    </>
  );
}

/** A member's role, changed in place: the role select and its Save button. */
function RoleCell(props: {
  org: OrgView;
  member: MemberView;
  name: string;
  roles: OrgRole[];
  onError: (error: unknown) => void;
  onDone: (role: OrgRole) => void;
}) {
  const [role, setRole] = useState<OrgRole>(props.member.role);
  const save = useAction(async () => {
    try {
      const m = await api.request("put", "/api/orgs/{org_id}/members/{user_id}", {
        path: { org_id: props.org.org_id, user_id: props.member.user_id },
        body: { role },
      });
      props.onDone(m.role);
      return m;
    } catch (error) {
      props.onError(error);
      throw error;
    }
  });
  const id = `role-${props.member.user_id}`;
  return (
    <form
      class="org-role-form"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <label for={id} class="visually-hidden">
        Role of {props.name}
      </label>
      <select id={id} value={role} onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as OrgRole)}>
        {props.roles.map((r) => (
          <option key={r} value={r}>
            {ROLE_LABELS[r]}
          </option>
        ))}
      </select>
      <Button type="submit" pending={save.pending} disabled={role === props.member.role} aria-label={`Save role of ${props.name}`}>
        Save
      </Button>
    </form>
  );
}

function Invitations(props: { org: OrgView }) {
  const { org } = props;
  const [cursor, setCursor] = useState<string | undefined>();
  const [older, setOlder] = useState<InvitationView[]>([]);
  const list = useLoad(
    () =>
      api.request("get", "/api/orgs/{org_id}/invitations", {
        path: { org_id: org.org_id },
        query: { limit: 50, ...(cursor ? { cursor } : {}) },
      }),
    [org.org_id, cursor],
  );
  const roles = grantableRoles(org.kind, org.role);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<OrgRole>("member");
  const [problem, setProblem] = useState<unknown>();
  const invite = useAction(async () => {
    const sent = await api.request("post", "/api/orgs/{org_id}/invitations", {
      path: { org_id: org.org_id },
      body: { email: email.trim(), role },
    });
    setEmail("");
    setOlder([]);
    setCursor(undefined);
    list.reload();
    return sent;
  });
  const errors = fieldErrors(invite.error);
  const all = [...older, ...(list.data?.invitations ?? [])];
  const pending = all.filter((i) => i.status === "pending");
  const closed = all.filter((i) => i.status !== "pending");
  const cancel = async (i: InvitationView) => {
    setProblem(undefined);
    try {
      await api.request("delete", "/api/orgs/{org_id}/invitations/{invitation_id}", {
        path: { org_id: org.org_id, invitation_id: i.invitation_id },
      });
    } catch (error) {
      setProblem(error);
    }
    setOlder([]);
    setCursor(undefined);
    list.reload();
  };
  const columns = [
    { header: "Email", cell: (i: InvitationView) => i.email },
    { header: "Role", cell: (i: InvitationView) => ROLE_LABELS[i.role] },
    { header: "Sent", cell: (i: InvitationView) => <DateTime value={i.created_at} /> },
    { header: "Expires", cell: (i: InvitationView) => <DateTime value={i.expires_at} /> },
  ];
  return (
    <Section title="Invitations">
      <form
        class="narrow"
        aria-label="Invite a member"
        onSubmit={(e) => {
          e.preventDefault();
          void invite.run();
        }}
      >
        <p class="muted">
          The address gets a link, valid 7 days. Whoever signs in with it, verified, can accept.
        </p>
        <Field
          label="Email address"
          name="email"
          type="email"
          autoComplete="off"
          required
          value={email}
          onInput={setEmail}
          error={errors["email"]}
        />
        <RoleSelect label="Role" name="role" value={role} onChange={setRole} roles={roles} error={errors["role"]} />
        <OrgProblem error={invite.error} title="Could not send the invitation" />
        {invite.result && !invite.error && (
          <Notice kind="success">
            {invite.result.email} is invited as {ROLE_LABELS[invite.result.role].toLowerCase()} until{" "}
            <DateTime value={invite.result.expires_at} />.
          </Notice>
        )}
        <Button type="submit" kind="primary" pending={invite.pending}>
          Send invitation
        </Button>
      </form>
      <h3>Pending</h3>
      <OrgProblem error={problem} title="Could not cancel the invitation" />
      <LoadState loaded={list} label="the invitations">
        {() => (
          <>
            <Table<InvitationView>
              caption="Pending invitations"
              rows={pending}
              rowKey={(i) => i.invitation_id}
              empty="No pending invitations."
              columns={[
                ...columns,
                {
                  header: "Actions",
                  cell: (i) => (
                    <Button kind="danger" onClick={() => void cancel(i)} aria-label={`Cancel the invitation of ${i.email}`}>
                      Cancel
                    </Button>
                  ),
                },
              ]}
            />
            {closed.length > 0 && (
              <details class="org-closed">
                <summary>Accepted, canceled and expired ({closed.length})</summary>
                <Table<InvitationView>
                  caption="Closed invitations"
                  rows={closed}
                  rowKey={(i) => i.invitation_id}
                  columns={[...columns, { header: "Status", cell: (i) => <StatusBadge status={i.status} /> }]}
                />
              </details>
            )}
            {list.data?.cursor && (
              <Button
                pending={list.loading}
                onClick={() => {
                  setOlder(all);
                  setCursor(list.data?.cursor);
                }}
              >
                Show older invitations
              </Button>
            )}
          </>
        )}
      </LoadState>
    </Section>
  );
}

function Transfer(props: { org: OrgView; members: MemberView[]; onDone: () => void }) {
  const me = useSession().context?.user.user_id;
  const others = props.members.filter((m) => m.user_id !== me);
  const [to, setTo] = useState("");
  const [newRole, setNewRole] = useState<OrgRole>("admin");
  const target = others.find((m) => m.user_id === to) ?? others[0];
  const roles = grantableRoles(props.org.kind, "owner");
  return (
    <Section title="Transfer ownership">
      {others.length === 0 ? (
        <p class="muted">Invite someone first: ownership goes to another member.</p>
      ) : (
        <div class="narrow">
          <p class="muted">The member you choose becomes an owner; you keep the role you choose below.</p>
          <Select
            label="New owner"
            name="user_id"
            value={target?.user_id ?? ""}
            onChange={setTo}
            options={others.map((m) => ({ value: m.user_id, label: `${m.name || m.user_id} (${m.email})` }))}
          />
          <RoleSelect label="Your role afterwards" name="new_role" value={newRole} onChange={setNewRole} roles={roles} />
          <ConfirmButton
            label="Transfer ownership"
            title="Transfer ownership?"
            description={
              <p>
                {target?.name || target?.email} becomes an owner of {props.org.name}, and you become{" "}
                {ROLE_LABELS[newRole].toLowerCase()}.
              </p>
            }
            kind="danger"
            onConfirm={async () => {
              if (!target) return;
              await api.request("post", "/api/orgs/{org_id}/transfer-ownership", {
                path: { org_id: props.org.org_id },
                body: { user_id: target.user_id, new_role: newRole },
              });
              props.onDone();
            }}
          />
        </div>
      )}
    </Section>
  );
}
