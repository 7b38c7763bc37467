// `/admin/payments`: a customer's payments and refunds (GET /api/payments/history?customer_id=), and a refund,
// full or partial, with a reason. The customer is found by a user's email (GET /api/admin/users?email=) or named
// by id (usr_… or org_…).
import { ApiError, type components } from "@monetization/sdk";
import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api } from "../../session";
import { Button, DateTime, Field, LoadState, Money, Notice, Page, ProblemAlert, Section, Select, StatusBadge, Table, TextArea, fieldErrors, formatMoney } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import { parseMajor } from "../../ui/money";

type Item = components["schemas"]["PaymentHistory"]["items"][number];

const CUSTOMER = /^(usr|org)_[0-9a-z]{26}$/;

export function AdminPayments() {
  const { query, route } = useLocation();
  const customer = query["customer_id"] ?? "";
  const [input, setInput] = useState(customer);
  const [invalid, setInvalid] = useState<string>();
  const [found, setFound] = useState<{ user_id: string; name: string; email: string }>();
  const find = useAction(async (text: string) => {
    if (CUSTOMER.test(text)) return text;
    if (!text.includes("@")) {
      setInvalid("Enter an email address, or a customer id: usr_ or org_ and 26 characters.");
      return undefined;
    }
    try {
      const user = await api.request("get", "/api/admin/users", { query: { email: text } });
      setFound(user);
      return user.user_id;
    } catch (error) {
      if (error instanceof ApiError && error.code === "user_not_found") {
        setInvalid(`No account uses ${text}.`);
        return undefined;
      }
      throw error;
    }
  });
  return (
    <Page title="Payments and refunds">
      <form
        class="card filters"
        aria-label="Find a customer"
        onSubmit={async (e) => {
          e.preventDefault();
          setInvalid(undefined);
          const id = await find.run(input.trim());
          if (id) route(`/admin/payments?customer_id=${encodeURIComponent(id)}`);
        }}
      >
        <Field
          label="Customer"
          name="customer"
          required
          hint="A user's email address, or a customer id: a user (usr_…) or an organization (org_…)."
          value={input}
          onInput={setInput}
          error={invalid}
        />
        <ProblemAlert error={find.error} title="Could not find the customer" />
        <Button type="submit" kind="primary" pending={find.pending}>
          Show payments
        </Button>
      </form>
      {customer && found?.user_id === customer && (
        <p>
          {found.name} &lt;{found.email}&gt; · <code>{customer}</code>
        </p>
      )}
      {customer && <History key={customer} customerId={customer} />}
    </Page>
  );
}

interface Payment {
  item: Item;
  refunded: number;
  refunds: Item[];
}

/** Payments with what was refunded of each (pending and succeeded refunds; failed ones returned nothing). */
function payments(items: Item[]): Payment[] {
  return items
    .filter((i) => i.kind === "payment")
    .map((item) => {
      const refunds = items.filter((r) => r.kind === "refund" && r.payment_id === item.payment_id);
      const refunded = refunds.filter((r) => r.status !== "failed").reduce((n, r) => n + r.amount, 0);
      return { item, refunded, refunds };
    });
}

function History(props: { customerId: string }) {
  const [cursor, setCursor] = useState<string>();
  const history = useLoad(
    () => api.request("get", "/api/payments/history", { query: { customer_id: props.customerId, cursor, limit: 100 } }),
    [props.customerId, cursor],
  );
  const [message, setMessage] = useState<string>();
  return (
    <>
      {message && <Notice kind="success">{message}</Notice>}
      <LoadState loaded={history} label="the payments">
        {(h) => {
          const list = payments(h.items);
          return (
            <>
              <Section title={`History of ${h.customer_id}`}>
                <Table
                  caption="Payments and refunds, newest first"
                  rows={h.items}
                  rowKey={(i) => `${i.kind}-${i.refund_id ?? i.payment_id}-${i.at}`}
                  empty="No payment."
                  columns={[
                    { header: "When", cell: (i) => <DateTime value={i.at} /> },
                    { header: "Kind", cell: (i) => i.kind },
                    { header: "Payment", cell: (i) => <code>{i.payment_id}</code> },
                    { header: "Amount", cell: (i) => <Money amount={i.amount} currency={i.currency} />, numeric: true },
                    { header: "Status", cell: (i) => (i.kind === "refund" ? <StatusBadge status={i.status ?? "pending"} /> : i.unapplied ? "unapplied (refunded in full)" : "captured") },
                    { header: "Provider", cell: (i) => i.provider },
                    { header: "Solution", cell: (i) => i.solution_id ?? "—" },
                  ]}
                />
                {h.cursor && <Button onClick={() => setCursor(h.cursor ?? undefined)}>Older</Button>}
              </Section>
              {list.length > 0 && (
                <RefundForm
                  payments={list}
                  onDone={(text) => {
                    setMessage(text);
                    history.reload();
                  }}
                />
              )}
            </>
          );
        }}
      </LoadState>
    </>
  );
}

function RefundForm(props: { payments: Payment[]; onDone: (text: string) => void }) {
  const refundable = props.payments.filter((p) => p.item.amount - p.refunded > 0);
  const [paymentId, setPaymentId] = useState(refundable[0]?.item.payment_id ?? "");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [amountError, setAmountError] = useState<string>();
  // One key per refund the admin means: a retry after a lost answer asks the provider once.
  const [key, setKey] = useState(() => crypto.randomUUID());
  const chosen = refundable.find((p) => p.item.payment_id === paymentId);
  const remaining = chosen ? chosen.item.amount - chosen.refunded : 0;
  const refund = useAction(async () => {
    if (!chosen) return undefined;
    let minor: number | undefined;
    if (amount.trim()) {
      const parsed = parseMajor(amount, chosen.item.currency);
      if (!parsed.ok) {
        setAmountError(parsed.error);
        return undefined;
      }
      if (parsed.minor < 1 || parsed.minor > remaining) {
        setAmountError(`Enter at most ${formatMoney(remaining, chosen.item.currency)}.`);
        return undefined;
      }
      minor = parsed.minor;
    }
    setAmountError(undefined);
    const r = await api.request("post", "/api/payments/{id}/refund", {
      path: { id: chosen.item.payment_id },
      headers: { "Idempotency-Key": key },
      body: { reason: reason.trim(), ...(minor !== undefined ? { amount: minor } : {}) },
    });
    setKey(crypto.randomUUID());
    setAmount("");
    setReason("");
    props.onDone(`Refund of ${formatMoney(r.amount, r.currency)} asked (${r.status}).`);
    return r;
  });
  const errors = fieldErrors(refund.error);
  if (refundable.length === 0)
    return (
      <Section title="Refund">
        <p class="muted">Every payment is refunded in full.</p>
      </Section>
    );
  return (
    <Section title="Refund">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void refund.run();
        }}
      >
        <Select
          label="Payment"
          name="payment"
          value={paymentId}
          onChange={(v) => {
            setPaymentId(v);
            setAmountError(undefined);
          }}
          options={refundable.map((p) => ({
            value: p.item.payment_id,
            label: `${p.item.payment_id}: ${formatMoney(p.item.amount, p.item.currency)}${
              p.refunded ? `, ${formatMoney(p.refunded, p.item.currency)} refunded` : ""
            }`,
          }))}
        />
        {chosen && (
          <p>
            Refundable: <Money amount={remaining} currency={chosen.item.currency} />
            {chosen.refunds.length > 0 && ` (${chosen.refunds.length} refund${chosen.refunds.length > 1 ? "s" : ""} already)`}
          </p>
        )}
        <Field
          label={`Amount (${chosen?.item.currency.toUpperCase() ?? ""})`}
          name="amount"
          inputMode="decimal"
          hint="In major units, e.g. 100.50. Leave blank to refund everything that remains."
          value={amount}
          onInput={setAmount}
          error={amountError ?? errors["amount"]}
        />
        <TextArea label="Reason" name="reason" required maxLength={500} value={reason} onInput={setReason} error={errors["reason"]} />
        <ProblemAlert error={refund.error} title="Could not refund" />
        <Button type="submit" kind="danger" pending={refund.pending}>
          {amount.trim() ? "Refund this amount" : "Refund in full"}
        </Button>
      </form>
    </Section>
  );
}
