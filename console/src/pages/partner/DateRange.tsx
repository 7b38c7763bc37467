// The period of the analytics and revenue pages: from and to (dates; the API allows at most 92 days), applied
// with a button. By default the last 30 days up to tomorrow (a solution's day may be ahead of UTC).
import { useState } from "preact/hooks";
import { Button, Field } from "../../ui/components";

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function useDateRange() {
  const now = Date.now();
  const [from, setFrom] = useState(isoDay(new Date(now - 29 * 86_400_000)));
  const [to, setTo] = useState(isoDay(new Date(now + 86_400_000)));
  const [range, setRange] = useState({ from, to });
  return { from, setFrom, to, setTo, range, apply: () => setRange({ from, to }) };
}

export function DateRangeForm(props: { state: ReturnType<typeof useDateRange>; pending: boolean; label: string }) {
  const r = props.state;
  return (
    <form
      class="card filters"
      aria-label={props.label}
      onSubmit={(e) => {
        e.preventDefault();
        r.apply();
      }}
    >
      <Field label="From" name="from" type="date" value={r.from} onInput={r.setFrom} />
      <Field label="To" name="to" type="date" value={r.to} onInput={r.setTo} hint="At most 92 days." />
      <Button type="submit" pending={props.pending}>
        Show
      </Button>
    </form>
  );
}
