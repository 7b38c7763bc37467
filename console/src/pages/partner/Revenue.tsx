// `/partner/:partner_id/revenue`: totals per currency (gross, GST, commission, earnings, refunds, paid out), the
// balance owed, the ledger postings, and the monthly statements with their payouts. All amounts are Money.
import { useState } from "preact/hooks";
import { api } from "../../session";
import { Button, DateTime, LoadState, Money, Section, StatusBadge, Table } from "../../ui/components";
import { useLoad } from "../../ui/data";
import { DateRangeForm, useDateRange } from "./DateRange";
import { PartnerPage, RoleAwareProblem, RoleNote, can, usePartner } from "./common";

export function PartnerRevenue(props: { partner_id: string }) {
  const ctx = usePartner(props.partner_id);
  const id = props.partner_id;
  const dates = useDateRange();
  const range = dates.range;
  const revenue = useLoad(
    () => api.request("get", "/api/partners/{id}/revenue", { path: { id }, query: { from: range.from, to: range.to } }),
    [id, range.from, range.to],
  );
  const [cursor, setCursor] = useState<string>();
  const payouts = useLoad(
    () => api.request("get", "/api/partners/{id}/payouts", { path: { id }, query: { cursor } }),
    [id, cursor],
  );
  return (
    <PartnerPage ctx={ctx} title="Revenue and payouts">
      {!can.readRevenue(ctx.role) && !ctx.admin && (
        <RoleNote>Revenue and payouts are for owners, admins and finance members of the partner.</RoleNote>
      )}
      <DateRangeForm state={dates} pending={revenue.loading} label="Period" />
      <Section title="Revenue">
        {revenue.error !== undefined && revenue.data === undefined ? (
          <RoleAwareProblem error={revenue.error} title="Could not load the revenue" />
        ) : (
          <LoadState loaded={revenue} label="the revenue">
            {(r) => {
              const totals = Object.entries(r.totals ?? {});
              const balance = Object.entries(r.balance ?? {});
              return (
                <>
                  <p class="muted">
                    {r.from} to {r.to}. Every payment posts GST, the platform's commission and your earnings; refunds
                    reverse them in proportion.
                  </p>
                  <h3>Balance owed to you</h3>
                  {balance.length === 0 ? (
                    <p class="muted">Nothing owed.</p>
                  ) : (
                    <ul class="plain">
                      {balance.map(([c, amount]) => (
                        <li key={c}>
                          <Money amount={amount} currency={c} />
                        </li>
                      ))}
                    </ul>
                  )}
                  <h3>Totals</h3>
                  <Table
                    caption="Revenue totals per currency"
                    rows={totals}
                    rowKey={([c]) => c}
                    empty="No payment in this period."
                    columns={[
                      { header: "Currency", cell: ([c]) => c.toUpperCase() },
                      { header: "Payments", cell: ([, t]) => t.payments ?? 0, numeric: true },
                      { header: "Gross", cell: ([c, t]) => <Money amount={t.gross ?? 0} currency={c} />, numeric: true },
                      { header: "GST", cell: ([c, t]) => <Money amount={t.tax ?? 0} currency={c} />, numeric: true },
                      { header: "Commission", cell: ([c, t]) => <Money amount={t.commission ?? 0} currency={c} />, numeric: true },
                      { header: "Earnings", cell: ([c, t]) => <Money amount={t.earnings ?? 0} currency={c} />, numeric: true },
                      { header: "Refunds", cell: ([, t]) => t.refunds ?? 0, numeric: true },
                      { header: "Reversed", cell: ([c, t]) => <Money amount={t.reversed ?? 0} currency={c} />, numeric: true },
                      { header: "Net", cell: ([c, t]) => <Money amount={t.net ?? 0} currency={c} />, numeric: true },
                      { header: "Paid out", cell: ([c, t]) => <Money amount={t.paid_out ?? 0} currency={c} />, numeric: true },
                    ]}
                  />
                  <h3>Postings</h3>
                  <Table
                    caption="Ledger postings"
                    rows={r.postings ?? []}
                    rowKey={(p) => p.posting_id ?? ""}
                    empty="No posting in this period."
                    columns={[
                      { header: "When", cell: (p) => <DateTime value={p.at} /> },
                      { header: "Kind", cell: (p) => p.kind },
                      { header: "Solution", cell: (p) => p.solution_id ?? "—" },
                      { header: "Gross", cell: (p) => <Money amount={p.gross ?? 0} currency={p.currency ?? "inr"} />, numeric: true },
                      { header: "GST", cell: (p) => <Money amount={p.tax ?? 0} currency={p.currency ?? "inr"} />, numeric: true },
                      { header: "Commission", cell: (p) => <Money amount={p.commission ?? 0} currency={p.currency ?? "inr"} />, numeric: true },
                      { header: "Yours", cell: (p) => <Money amount={p.partner ?? 0} currency={p.currency ?? "inr"} />, numeric: true },
                    ]}
                  />
                </>
              );
            }}
          </LoadState>
        )}
      </Section>
      <Section title="Statements and payouts">
        {payouts.error !== undefined && payouts.data === undefined ? (
          <RoleAwareProblem error={payouts.error} title="Could not load the statements" />
        ) : (
          <LoadState loaded={payouts} label="the statements">
            {(p) => (
              <>
                <Table
                  caption="Monthly statements"
                  rows={p.statements ?? []}
                  rowKey={(s) => s.statement_id ?? ""}
                  empty="No statement yet: the first one is made after your first month."
                  columns={[
                    { header: "Month", cell: (s) => s.month },
                    { header: "Opening", cell: (s) => <Money amount={s.opening ?? 0} currency={s.currency ?? "inr"} />, numeric: true },
                    { header: "Earned", cell: (s) => <Money amount={s.earned ?? 0} currency={s.currency ?? "inr"} />, numeric: true },
                    { header: "Reversed", cell: (s) => <Money amount={s.reversed ?? 0} currency={s.currency ?? "inr"} />, numeric: true },
                    { header: "Closing", cell: (s) => <Money amount={s.closing ?? 0} currency={s.currency ?? "inr"} />, numeric: true },
                    { header: "Payout", cell: (s) => <Money amount={s.payout ?? 0} currency={s.currency ?? "inr"} />, numeric: true },
                    { header: "Carried", cell: (s) => <Money amount={s.carried ?? 0} currency={s.currency ?? "inr"} />, numeric: true },
                    { header: "Payout status", cell: (s) => <StatusBadge status={s.payout_status ?? "none"} /> },
                  ]}
                />
                {p.next_cursor && (
                  <Button onClick={() => setCursor(p.next_cursor ?? undefined)}>Older statements</Button>
                )}
              </>
            )}
          </LoadState>
        )}
      </Section>
    </PartnerPage>
  );
}
