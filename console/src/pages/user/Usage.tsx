import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api, useSession } from "../../session";
import { BarChart, QuotaGauge, type Series } from "../../ui/charts";
import { Button, LoadState, Notice, Page, Section, Select, Table } from "../../ui/components";
import { useLoad } from "../../ui/data";
import { CustomerSelect, type Schemas, customersFor, tierName, useUserSolutions } from "./shared";
import { PeriodLine } from "./UsagePricing";

type UsageDay = Schemas["UsageDay"];

const RANGES = [
  { value: "7", label: "Last 7 days" },
  { value: "30", label: "Last 30 days" },
  { value: "90", label: "Last 90 days" },
];

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return isoDay(d);
}

/** Every day from `from` to `to` (inclusive), `YYYY-MM-DD`. */
function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let day = from; day <= to && out.length < 400; day = addDays(day, 1)) out.push(day);
  return out;
}

/** The chart's days and one series per action, from the API's days (only days with usage are listed). */
export function usageSeries(days: UsageDay[], from: string, to: string): { labels: string[]; series: Series[] } {
  const actions = [...new Set(days.flatMap((d) => Object.keys(d.actions)))].sort();
  // The API's range may end tomorrow (the solution's local day can be ahead of UTC): stop at the last day with
  // usage or today, whichever is later.
  const last = days.reduce((max, d) => (d.date > max ? d.date : max), isoDay(new Date()));
  const labels = daysBetween(from, last < to ? last : to);
  const series = actions.map((action) => ({
    label: action,
    values: labels.map((day) => days.filter((d) => d.date === day).reduce((n, d) => n + (d.actions[action] ?? 0), 0)),
  }));
  return { labels, series };
}

/** `/usage`: a solution's usage per day and action, today's quota, and a nudge to upgrade near the limit. */
export function Usage() {
  const s = useSession();
  const { query } = useLocation();
  const customers = customersFor(s, "usage");
  const [customerId, setCustomerId] = useState(customers[0]?.id ?? "");
  const solutions = useUserSolutions();
  const [picked, setPicked] = useState(query["solution"] ?? "");
  const solutionId = picked || solutions.data?.[0]?.solution_id || "";
  const [range, setRange] = useState("30");
  const usage = useLoad(async () => {
    if (!solutionId || !customerId) return undefined;
    const today = isoDay(new Date());
    return api.request("get", "/api/usage/{customer_id}", {
      path: { customer_id: customerId },
      query: { solution_id: solutionId, from: addDays(today, 1 - Number(range)), to: addDays(today, 1) },
    });
  }, [customerId, solutionId, range]);
  const quota = useLoad(
    async () =>
      solutionId && customerId
        ? api.request("get", "/api/quotas/{customer_id}/{solution_id}", {
            path: { customer_id: customerId, solution_id: solutionId },
          })
        : undefined,
    [customerId, solutionId],
  );
  const solutionName = solutions.data?.find((x) => x.solution_id === solutionId)?.name ?? solutionId;
  const customer = customers.find((c) => c.id === customerId);
  return (
    <Page
      title="Usage"
      actions={
        <Button
          onClick={() => {
            usage.reload();
            quota.reload();
          }}
          pending={usage.loading || quota.loading}
        >
          Refresh
        </Button>
      }
    >
      <div class="card toolbar">
        <CustomerSelect customers={customers} value={customerId} onChange={setCustomerId} />
        <LoadState loaded={solutions} label="your solutions">
          {(list) => (
            <Select
              label="Solution"
              name="solution"
              value={solutionId}
              onChange={setPicked}
              options={list.map((x) => ({ value: x.solution_id, label: x.name }))}
            />
          )}
        </LoadState>
        <Select label="Period" name="range" value={range} onChange={setRange} options={RANGES} />
      </div>
      <div class="usage-grid">
        <Section title="Today's quota">
          <LoadState loaded={quota} label="today's quota">
            {(q) =>
              q && (
                <>
                  <QuotaGauge
                    title={`${solutionName}: ${tierName(q.tier)} tier, today`}
                    used={q.used}
                    limit={q.limit}
                    resetAt={q.reset_at}
                  />
                  {q.billing_period && <PeriodLine period={q.billing_period} />}
                  {q.member_used !== undefined && (
                    <p class="hint">Your share of the team's use today: {q.member_used.toLocaleString()}.</p>
                  )}
                  <UpgradePrompt used={q.used} limit={q.limit} tier={q.tier} solutionId={solutionId} team={Boolean(customer?.orgId)} />
                </>
              )
            }
          </LoadState>
        </Section>
        <Section title="Usage per day">
          <LoadState loaded={usage} label="the usage">
            {(h) => {
              if (!h) return <p class="muted">Choose a solution.</p>;
              const { labels, series } = usageSeries(h.days, h.from, h.to);
              const total = series.reduce((n, x) => n + x.values.reduce((a, b) => a + b, 0), 0);
              return (
                <>
                  <p role="status" data-testid="usage-total">
                    {total.toLocaleString()} uses in this period
                    {series.length > 0 && `: ${series.map((x) => `${x.label} ${x.values.reduce((a, b) => a + b, 0).toLocaleString()}`).join(", ")}`}.
                  </p>
                  {series.length === 0 ? (
                    <p class="muted">No usage of {solutionName} in this period yet.</p>
                  ) : (
                    <BarChart title={`${solutionName}: uses per day, by action`} labels={labels} series={series} stacked />
                  )}
                  <Members days={h.days} />
                </>
              );
            }}
          </LoadState>
        </Section>
      </div>
    </Page>
  );
}

function UpgradePrompt(props: { used: number; limit: number | null; tier: string; solutionId: string; team: boolean }) {
  if (props.limit === null || props.limit === 0) return null;
  const share = props.used / props.limit;
  if (share < 0.8) return null;
  const atLimit = props.used >= props.limit;
  return (
    <Notice kind="warning">
      <strong>{atLimit ? "You have reached today's limit." : `You have used ${Math.floor(share * 100)}% of today's limit.`}</strong>
      <p>
        {atLimit ? "Further uses are refused until the quota resets." : "Uses past the limit are refused until the quota resets."}{" "}
        {props.tier === "enterprise"
          ? "Contact the solution's partner for a higher limit."
          : props.team
            ? "A team owner can upgrade the team's plan."
            : "Upgrade for a higher limit."}
      </p>
      <p>
        <a href={`/catalog/${props.solutionId}`}>See the plans</a> · <a href="/billing">Billing</a>
      </p>
    </Notice>
  );
}

/** An organization's days carry each member's share (owners and admins see everyone's). */
function Members(props: { days: UsageDay[] }) {
  const totals = new Map<string, number>();
  for (const d of props.days) for (const [user, n] of Object.entries(d.members ?? {})) totals.set(user, (totals.get(user) ?? 0) + n);
  if (totals.size === 0) return null;
  const rows = [...totals.entries()].map(([user, used]) => ({ user, used }));
  return (
    <>
      <h3>Members' shares</h3>
      <Table
        caption="Members' shares of the team's usage in this period"
        rows={rows}
        rowKey={(r) => r.user}
        columns={[
          { header: "Member", cell: (r) => <code>{r.user}</code> },
          { header: "Uses", cell: (r) => r.used.toLocaleString(), numeric: true },
        ]}
      />
    </>
  );
}
