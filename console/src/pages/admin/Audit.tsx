// `/admin/audit`: the audit trail (GET /api/admin/audit) — admin actions and security events, newest first,
// filtered by kind, actor, subject and a range of UTC days (the filters live in the address, so a view can be
// reloaded and shared). "More" reads the next page; a page can be short, even empty, and still go on (the API
// filters kinds after reading a bounded number of records).
import type { components } from "@monetization/sdk";
import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api } from "../../session";
import { Button, DateTime, Field, LoadState, Notice, Page, ProblemAlert, Select, Table, fieldErrors } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";

type Kind = components["schemas"]["AuditKind"];
type AuditEvent = components["schemas"]["AuditEvent"];

/** Every kind the API records, with what it means (a missing or extra kind fails the type check). */
const KINDS: Record<Kind, string> = {
  "partner.approved": "Partner approved",
  "partner.rejected": "Partner rejected",
  "solution.approved": "Solution approved",
  "solution.rejected": "Solution rejected",
  "solution.suspended": "Solution suspended",
  "solution.reinstated": "Solution reinstated",
  "solution.retired": "Solution retired",
  "solution.change_approved": "Solution change approved",
  "solution.change_rejected": "Solution change rejected",
  "quota.reset": "Quota reset",
  "tier_limits.set": "Tier limits set",
  "user_tier.set": "User's tier set",
  "refund.requested": "Refund requested",
  "notification.retried": "Notification retried",
  "auth.login": "Login",
  "auth.login_failed": "Login failed",
  "auth.locked": "Account locked",
  "token.revoked": "Token revoked",
  "api_key.created": "API key created",
  "api_key.revoked": "API key revoked",
  "account.exported": "Account data exported",
  "account.erased": "Account erased",
};

const PAGE_SIZES = ["10", "50", "100"];

interface Filters {
  kind: string;
  actor: string;
  subject: string;
  from: string;
  to: string;
  limit: string;
}

const EMPTY: Filters = { kind: "", actor: "", subject: "", from: "", to: "", limit: "50" };

function filtersOf(query: Record<string, string | undefined>): Filters {
  const pick = (name: keyof Filters) => query[name]?.trim() ?? EMPTY[name];
  return { kind: pick("kind"), actor: pick("actor"), subject: pick("subject"), from: pick("from"), to: pick("to"), limit: pick("limit") };
}

/** The console's address of a view: only the filters that are set. */
function href(f: Filters): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(f)) if (value && !(name === "limit" && value === EMPTY.limit)) params.set(name, value);
  const query = params.toString();
  return query ? `/admin/audit?${query}` : "/admin/audit";
}

/** The API's query of a view (a kind the console does not know is sent as it is: the API names it). */
function apiQuery(f: Filters, cursor?: string) {
  const limit = Number.parseInt(f.limit, 10);
  return {
    kind: (f.kind || undefined) as Kind | undefined,
    actor: f.actor || undefined,
    subject: f.subject || undefined,
    from: f.from || undefined,
    to: f.to || undefined,
    limit: Number.isNaN(limit) ? undefined : limit,
    cursor,
  };
}

export function AdminAudit() {
  const { query, route } = useLocation();
  const applied = filtersOf(query);
  const view = href(applied);
  return (
    <Page title="Audit trail">
      <p>
        Admin decisions and money events are kept 8 years; security events (sign-ins, failed sign-ins, locks, revoked
        tokens, API keys) 400 days, with the address they came from.
      </p>
      <Trail key={view} filters={applied} onApply={(f) => route(href(f))} />
    </Page>
  );
}

function Trail(props: { filters: Filters; onApply: (f: Filters) => void }) {
  const [form, setForm] = useState(props.filters);
  const set = (name: keyof Filters) => (value: string) => setForm((f) => ({ ...f, [name]: value }));
  const first = useLoad(() => api.request("get", "/api/admin/audit", { query: apiQuery(props.filters) }), []);
  // The pages read after the first: their records, where the next one starts, and how many the last one had.
  const [older, setOlder] = useState<{ events: AuditEvent[]; next?: string; last: number }>();
  const more = useAction(async (cursor: string) => {
    const page = await api.request("get", "/api/admin/audit", { query: apiQuery(props.filters, cursor) });
    setOlder((o) => ({ events: [...(o?.events ?? []), ...page.events], next: page.next_cursor, last: page.events.length }));
  });
  const errors = fieldErrors(first.error);
  return (
    <>
      <form
        class="card filters"
        aria-label="Filter the audit trail"
        onSubmit={(e) => {
          e.preventDefault();
          props.onApply(form);
        }}
      >
        <Select
          label="Kind"
          name="kind"
          value={form.kind}
          onChange={set("kind")}
          error={errors["kind"]}
          options={[{ value: "", label: "All kinds" }, ...Object.entries(KINDS).map(([value, label]) => ({ value, label }))]}
        />
        <Field label="Actor" name="actor" value={form.actor} onInput={set("actor")} error={errors["actor"]} hint="A user id (usr_…) or system." />
        <Field
          label="Subject"
          name="subject"
          value={form.subject}
          onInput={set("subject")}
          error={errors["subject"]}
          hint="What it is about, e.g. partner#prt_…, user#usr_…, payment#pay_…"
        />
        <Field label="From" name="from" type="date" value={form.from} onInput={set("from")} error={errors["from"]} />
        <Field label="To" name="to" type="date" value={form.to} onInput={set("to")} error={errors["to"]} hint="Included. Default: the last 7 days (UTC)." />
        <Select
          label="Per page"
          name="limit"
          value={form.limit}
          onChange={set("limit")}
          error={errors["limit"]}
          options={PAGE_SIZES.map((n) => ({ value: n, label: n }))}
        />
        <Button type="submit" kind="primary">
          Show
        </Button>
        <Button onClick={() => props.onApply(EMPTY)}>Clear</Button>
      </form>
      <LoadState loaded={first} label="the audit trail">
        {(page) => {
          const events = [...page.events, ...(older?.events ?? [])];
          const next = older ? older.next : page.next_cursor;
          return (
            <>
              <p class="muted">
                From <DateTime value={page.from} /> to <DateTime value={page.to} /> (newest first).
              </p>
              <Table
                caption="Audit records, newest first"
                rows={events}
                rowKey={(e) => e.audit_id}
                empty={next ? "Nothing matches in what was read so far." : "Nothing matches these filters."}
                columns={[
                  { header: "Time", cell: (e) => <DateTime value={e.at} /> },
                  {
                    header: "Kind",
                    cell: (e) => (
                      <>
                        {KINDS[e.kind as Kind] ?? e.kind}
                        <br />
                        <code class="muted">{e.kind}</code>
                      </>
                    ),
                  },
                  { header: "Actor", cell: (e) => <code>{e.actor}</code> },
                  { header: "Subject", cell: (e) => <code>{e.subject}</code> },
                  { header: "Reason", cell: (e) => e.reason ?? "—" },
                  { header: "Details", cell: (e) => <Details event={e} /> },
                ]}
              />
              <ProblemAlert error={more.error} title="Could not read more" />
              {next && (
                <>
                  {older?.last === 0 && <Notice>The last read found nothing more that matches; More reads further back.</Notice>}
                  <Button pending={more.pending} onClick={() => void more.run(next)}>
                    More
                  </Button>
                </>
              )}
            </>
          );
        }}
      </LoadState>
    </>
  );
}

function Details(props: { event: AuditEvent }) {
  const entries = Object.entries(props.event.details);
  if (props.event.source_ip) entries.push(["address", props.event.source_ip]);
  if (entries.length === 0) return <>—</>;
  return (
    <ul class="plain">
      {entries.map(([name, value]) => (
        <li key={name}>
          <span class="muted">{name}:</span> <code>{value}</code>
        </li>
      ))}
    </ul>
  );
}
