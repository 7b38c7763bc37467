// `/partner/:partner_id/analytics`: per day (each solution's own day) — active users and anonymous visitors,
// usage, conversions, paying subscribers by tier, and revenue per currency (for the roles that read revenue);
// for one solution or all of them added up. Every chart has its numbers in a table.
import type { components } from "@monetization/sdk";
import { useState } from "preact/hooks";
import { api } from "../../session";
import { BarChart, LineChart } from "../../ui/charts";
import { LoadState, Section, Select, formatMoney } from "../../ui/components";
import { useLoad } from "../../ui/data";
import { DateRangeForm, useDateRange } from "./DateRange";
import { PartnerPage, RoleAwareProblem, RoleNote, can, usePartner } from "./common";

type Analytics = components["schemas"]["PartnerAnalytics"];
type Day = NonNullable<NonNullable<NonNullable<Analytics["solutions"]>[number]["days"]>[number]>;

interface Totals {
  labels: string[];
  activeUsers: number[];
  anonymous: number[];
  usage: number[];
  toRegistered: number[];
  toPaid: number[];
  subscribers: Map<string, number[]>;
  /** Per currency: gross and net per day (minor units). */
  revenue: Map<string, { gross: number[]; net: number[] }>;
}

/** The days of the chosen solutions added up, day by day. */
export function totals(data: Analytics, solutionId: string): Totals {
  const chosen = (data.solutions ?? []).filter((s) => solutionId === "" || s.solution_id === solutionId);
  const byDate = new Map<string, Day[]>();
  for (const s of chosen) for (const d of s.days ?? []) if (d.date) byDate.set(d.date, [...(byDate.get(d.date) ?? []), d]);
  const labels = [...byDate.keys()].sort();
  const sum = (f: (d: Day) => number) => labels.map((l) => (byDate.get(l) ?? []).reduce((n, d) => n + f(d), 0));
  const tiers = new Set<string>();
  const currencies = new Set<string>();
  for (const days of byDate.values())
    for (const d of days) {
      Object.keys(d.subscribers ?? {}).forEach((t) => tiers.add(t));
      Object.keys(d.revenue ?? {}).forEach((c) => currencies.add(c));
    }
  return {
    labels,
    activeUsers: sum((d) => d.active_users ?? 0),
    anonymous: sum((d) => d.anonymous_visitors ?? 0),
    usage: sum((d) => d.usage ?? 0),
    toRegistered: sum((d) => d.conversions?.anonymous_to_registered ?? 0),
    toPaid: sum((d) => d.conversions?.free_to_paid ?? 0),
    subscribers: new Map([...tiers].sort().map((t) => [t, sum((d) => d.subscribers?.[t] ?? 0)])),
    revenue: new Map(
      [...currencies].sort().map((c) => [
        c,
        { gross: sum((d) => d.revenue?.[c]?.gross ?? 0), net: sum((d) => d.revenue?.[c]?.net ?? 0) },
      ]),
    ),
  };
}

export function PartnerAnalytics(props: { partner_id: string }) {
  const ctx = usePartner(props.partner_id);
  const dates = useDateRange();
  const range = dates.range;
  const [solution, setSolution] = useState("");
  const analytics = useLoad(
    () =>
      api.request("get", "/api/partners/{id}/analytics", {
        path: { id: props.partner_id },
        query: { from: range.from || undefined, to: range.to || undefined },
      }),
    [props.partner_id, range.from, range.to],
  );
  return (
    <PartnerPage ctx={ctx} title="Analytics">
      <DateRangeForm state={dates} pending={analytics.loading} label="Period" />
      {analytics.error !== undefined && <RoleAwareProblem error={analytics.error} title="Could not load the analytics" />}
      <LoadState loaded={analytics} label="the analytics">
        {(data) => {
          const t = totals(data, solution);
          return (
            <>
              <Select
                label="Solution"
                name="solution"
                value={solution}
                onChange={setSolution}
                options={[
                  { value: "", label: "All solutions" },
                  ...(data.solutions ?? []).map((s) => ({ value: s.solution_id ?? "", label: s.name ?? s.solution_id ?? "" })),
                ]}
              />
              <p class="muted">
                {data.from} to {data.to}; each solution's days are in its own time zone.
              </p>
              {t.labels.length === 0 ? (
                <p class="muted">No activity in this period.</p>
              ) : (
                <>
                  <Section title="Users and usage">
                    <LineChart
                      title="Active users per day"
                      labels={t.labels}
                      series={[
                        { label: "Active users", values: t.activeUsers },
                        { label: "Anonymous visitors", values: t.anonymous },
                      ]}
                    />
                    <BarChart title="Usage per day" labels={t.labels} series={[{ label: "Usage", values: t.usage }]} />
                  </Section>
                  <Section title="Conversions and subscribers">
                    <BarChart
                      title="Conversions per day"
                      labels={t.labels}
                      series={[
                        { label: "Anonymous to registered", values: t.toRegistered },
                        { label: "Free to paid", values: t.toPaid },
                      ]}
                    />
                    {t.subscribers.size > 0 ? (
                      <LineChart
                        title="Paying subscribers per day"
                        labels={t.labels}
                        series={[...t.subscribers].map(([tier, values]) => ({ label: tier, values }))}
                      />
                    ) : (
                      <p class="muted">No paying subscribers in this period.</p>
                    )}
                  </Section>
                  <Section title="Revenue">
                    {!can.readRevenue(ctx.role) && !ctx.admin ? (
                      <RoleNote>Revenue is shown to owners, admins and finance members of the partner.</RoleNote>
                    ) : t.revenue.size === 0 ? (
                      <p class="muted">No revenue in this period.</p>
                    ) : (
                      [...t.revenue].map(([currency, r]) => (
                        <BarChart
                          key={currency}
                          title={`Revenue per day (${currency.toUpperCase()})`}
                          labels={t.labels}
                          series={[
                            { label: "Gross", values: r.gross },
                            { label: "Your earnings (net)", values: r.net },
                          ]}
                          format={(n) => formatMoney(n, currency)}
                        />
                      ))
                    )}
                  </Section>
                </>
              )}
            </>
          );
        }}
      </LoadState>
    </PartnerPage>
  );
}
