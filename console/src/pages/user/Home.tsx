import { useLocation } from "preact-iso";
import { useSession } from "../../session";
import { LoadState, Notice, Page, Section, StatusBadge, Table } from "../../ui/components";
import { ResendVerification, useUserSolutions } from "./shared";

/** `/`: the signed-in user's start page. */
export function Home() {
  const s = useSession();
  const { query } = useLocation();
  const user = s.context?.user;
  const solutions = useUserSolutions();
  const teams = s.orgs.filter((o) => o.kind === "team");
  return (
    <Page title={user?.name ? `Hello, ${user.name}` : "Hello"}>
      {query["welcome"] === "1" && (
        <Notice kind="success">
          <strong>Welcome aboard!</strong> Your account is ready. Every solution starts on its free tier; browse the{" "}
          <a href="/catalog">catalog</a> to find more.
        </Notice>
      )}
      {user && !user.email_verified && (
        <Notice kind="warning">
          <strong>Please verify your email address.</strong>
          <p>
            We sent a link to {user.email}. You need a verified address to subscribe to paid plans and to pay.
          </p>
          <ResendVerification />
        </Notice>
      )}
      <Section title="My solutions and tiers">
        <LoadState loaded={solutions} label="your solutions">
          {(list) => (
            <Table
              caption="My solutions and tiers"
              rows={list}
              rowKey={(r) => r.solution_id}
              empty="No solutions are published yet."
              columns={[
                { header: "Solution", cell: (r) => <a href={`/catalog/${r.solution_id}`}>{r.name}</a> },
                {
                  header: "My tier",
                  cell: (r) => (
                    <span data-testid={`tier-${r.solution_id}`}>
                      <StatusBadge status={r.tier} />
                    </span>
                  ),
                },
                {
                  header: "Usage",
                  cell: (r) => <a href={`/usage?solution=${r.solution_id}`}>Usage of {r.name}</a>,
                },
              ]}
            />
          )}
        </LoadState>
        {teams.length > 0 && (
          <p class="hint">
            These are your own tiers. Your teams ({teams.map((t) => t.name).join(", ")}) have tiers of their own: see{" "}
            <a href="/usage">Usage</a> and <a href="/billing">Billing</a>.
          </p>
        )}
      </Section>
      <Section title="Quick links">
        <ul class="link-list">
          <li>
            <a href="/catalog">Browse the catalog</a> and subscribe to a paid plan
          </li>
          <li>
            <a href="/tokens">Generate a solution token</a> for an app that uses a solution
          </li>
          <li>
            <a href="/usage">See your usage</a> and today's quota
          </li>
          <li>
            <a href="/billing">Billing</a>: subscriptions, payments and invoices
          </li>
        </ul>
      </Section>
    </Page>
  );
}
