// `/orgs`: the caller's organizations (personal, teams, partners) with their role in each, and a new team.
import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api, reloadSession, useSession, type OrgView } from "../../session";
import { Button, DateTime, Field, Notice, Page, Section, Table, fieldErrors } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import { KIND_LABELS, OrgProblem, RoleBadge } from "./common";

export function Orgs() {
  const s = useSession();
  const { route } = useLocation();
  const [name, setName] = useState("");
  const create = useAction(async () => {
    const org = await api.request("post", "/api/orgs", { body: { name: name.trim() } });
    await reloadSession();
    setName("");
    route(`/orgs/${org.org_id}`);
    return org;
  });
  // Fresh from the API (a member removed elsewhere drops out), the session's list meanwhile.
  const orgs = useLoad(() => api.request("get", "/api/orgs").then((l) => l.orgs), []);
  // Invitations waiting for the caller (an unverified address is refused: the Invitations page says why).
  const pending = useLoad(
    () => api.request("get", "/api/invitations").then((l) => l.invitations.filter((i) => i.status === "pending").length),
    [],
  );
  const errors = fieldErrors(create.error);
  return (
    <Page title="Organizations">
      {pending.data ? (
        <Notice>
          You have {pending.data === 1 ? "an invitation" : `${pending.data} invitations`} to join an organization.{" "}
          <a href="/invitations">See your invitations</a>
        </Notice>
      ) : null}
      <Section title="Your organizations">
        <p class="muted">
          Your personal organization is your own account. A team shares its subscriptions and one daily quota
          among its members.
        </p>
        {orgs.error !== undefined && <OrgProblem error={orgs.error} title="Could not refresh your organizations" />}
        <Table<OrgView>
          caption="Your organizations"
          rows={orgs.data ?? s.orgs}
          rowKey={(o) => o.org_id}
          empty="You belong to no organization yet."
          columns={[
            { header: "Name", cell: (o) => <a href={`/orgs/${o.org_id}`}>{o.name}</a> },
            { header: "Kind", cell: (o) => KIND_LABELS[o.kind] },
            { header: "Your role", cell: (o) => <RoleBadge role={o.role} /> },
            { header: "Members", cell: (o) => o.member_count, numeric: true },
            { header: "Created", cell: (o) => <DateTime value={o.created_at} date /> },
          ]}
        />
      </Section>
      <Section title="Create a team">
        <form
          class="narrow"
          onSubmit={(e) => {
            e.preventDefault();
            void create.run();
          }}
        >
          <p class="muted">You become its owner, and invite the others by email.</p>
          <Field
            label="Team name"
            name="name"
            required
            maxLength={100}
            value={name}
            onInput={setName}
            error={errors["name"]}
          />
          <OrgProblem error={create.error} title="Could not create the team" />
          <Button type="submit" kind="primary" pending={create.pending}>
            Create team
          </Button>
        </form>
      </Section>
    </Page>
  );
}
