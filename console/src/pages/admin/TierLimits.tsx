// `/admin/tier-limits`: a tier's daily and monthly limits for one solution (an override the partner's later
// changes keep) or as the platform default (PUT /api/tier-limits); a solution's current limits from the catalog.
import type { components } from "@monetization/sdk";
import { useState } from "preact/hooks";
import { api } from "../../session";
import { Button, DateTime, Field, LoadState, Notice, Page, ProblemAlert, Section, Select, fieldErrors } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import { TiersTable } from "../partner/common";

type Tier = components["schemas"]["Tier"];
const SOLUTION = /^sol_[0-9a-z]{26}$/;

function limit(text: string): { ok: true; value: number | null } | { ok: false } {
  const t = text.trim().replace(/[,_\s]/g, "");
  if (t === "") return { ok: true, value: null };
  return /^\d{1,16}$/.test(t) && Number.isSafeInteger(Number(t)) ? { ok: true, value: Number(t) } : { ok: false };
}

export function AdminTierLimits() {
  const [solutionId, setSolutionId] = useState("");
  const [shown, setShown] = useState("");
  const [tier, setTier] = useState<Tier>("free");
  const [daily, setDaily] = useState("");
  const [monthly, setMonthly] = useState("");
  const [local, setLocal] = useState<Record<string, string>>({});
  const current = useLoad(
    () => (shown ? api.request("get", "/api/solutions/{id}", { path: { id: shown } }) : Promise.resolve(undefined)),
    [shown],
  );
  const save = useAction(async () => {
    const errs: Record<string, string> = {};
    const id = solutionId.trim();
    if (id && !SOLUTION.test(id)) errs["solution_id"] = "A solution id is sol_ and 26 characters; leave it blank for the platform default.";
    const d = limit(daily);
    const m = limit(monthly);
    if (!d.ok) errs["daily_limit"] = "Enter a whole number, or leave it blank for unlimited.";
    if (!m.ok) errs["monthly_limit"] = "Enter a whole number, or leave it blank for unlimited.";
    setLocal(errs);
    if (Object.keys(errs).length || !d.ok || !m.ok) return undefined;
    const answer = await api.request("put", "/api/tier-limits", {
      body: { solution_id: id || null, tier, daily_limit: d.value, monthly_limit: m.value },
    });
    if (id) {
      setShown(id);
      current.reload();
    }
    return answer;
  });
  const errors = { ...fieldErrors(save.error), ...local };
  const fmt = (n: number | null | undefined) => (n === null || n === undefined ? "unlimited" : n.toLocaleString());
  return (
    <Page title="Tier limits">
      <Section title="Set a tier's limits">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void save.run();
          }}
        >
          <div class="filters">
            <Field
              label="Solution id"
              name="solution_id"
              hint="Blank: the platform default for every solution without its own."
              value={solutionId}
              onInput={setSolutionId}
              error={errors["solution_id"]}
            />
            <Button
              onClick={() => setShown(SOLUTION.test(solutionId.trim()) ? solutionId.trim() : "")}
              disabled={!SOLUTION.test(solutionId.trim())}
            >
              Show current limits
            </Button>
          </div>
          <Select
            label="Tier"
            name="tier"
            value={tier}
            onChange={(v) => setTier(v as Tier)}
            options={(["anonymous", "free", "pro", "enterprise"] as const).map((t) => ({ value: t, label: t }))}
            error={errors["tier"]}
          />
          <Field label="Daily limit" name="daily_limit" inputMode="numeric" hint="Blank: unlimited." value={daily} onInput={setDaily} error={errors["daily_limit"]} />
          <Field label="Monthly limit" name="monthly_limit" inputMode="numeric" hint="Blank: unlimited; not below the daily limit." value={monthly} onInput={setMonthly} error={errors["monthly_limit"]} />
          <ProblemAlert error={save.error} title="Could not set the limits" />
          {save.result && (
            <Notice kind="success">
              {save.result.solution_id ? `Solution ${save.result.solution_id}` : "Platform default"}, {save.result.tier}: daily{" "}
              {fmt(save.result.daily_limit)}, monthly {fmt(save.result.monthly_limit)} (set <DateTime value={save.result.updated_at} />;
              running functions pick it up within a minute).
            </Notice>
          )}
          <Button type="submit" kind="primary" pending={save.pending}>
            Set limits
          </Button>
        </form>
      </Section>
      {shown && (
        <Section title={`Current limits of ${shown}`}>
          <LoadState loaded={current} label="the solution">
            {(s) => (s ? <TiersTable tiers={s.tiers ?? []} caption={`Tiers of ${s.name ?? shown}`} /> : null)}
          </LoadState>
          <p class="muted">From the catalog (published solutions only).</p>
        </Section>
      )}
      <p class="muted">
        The platform defaults in force cannot be read back from the API yet; built in: anonymous 10, free 100, pro 10,000
        a day, enterprise unlimited.
      </p>
    </Page>
  );
}
