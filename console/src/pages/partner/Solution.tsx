// `/partner/:partner_id/solutions/:solution_id`: one solution — its status and the reviewer's note, the live
// tiers and a waiting change side by side, the lifecycle (submit, withdraw, retire), the listing and tiers
// form, and asset uploads (presigned PUT straight to storage).
import type { components } from "@monetization/sdk";
import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api } from "../../session";
import { Button, ConfirmButton, DateTime, LoadState, Notice, Section, Select, StatusBadge } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import { PartnerPage, RoleAwareProblem, RoleNote, TiersDiff, TiersTable, can, usePartner, type PartnerSolution } from "./common";
import { SolutionForm } from "./SolutionForm";

export function PartnerSolutionPage(props: { partner_id: string; solution_id: string }) {
  const ctx = usePartner(props.partner_id);
  const { query } = useLocation();
  const [message, setMessage] = useState<string | undefined>(query["created"] ? "The draft was created." : undefined);
  const solution = useLoad(
    () => api.request("get", "/api/partners/solutions/{id}", { path: { id: props.solution_id } }),
    [props.solution_id],
  );
  const mayChange = can.manageSolutions(ctx.role);
  const done = (text: string) => () => {
    setMessage(text);
    solution.reload();
  };
  const act = useAction(async (action: "submit" | "withdraw") => {
    setMessage(undefined);
    const path = action === "submit" ? "/api/partners/solutions/{id}/submit" : "/api/partners/solutions/{id}/withdraw";
    await api.request("post", path, { path: { id: props.solution_id } });
    done(action === "submit" ? "Submitted for review." : "Withdrawn: the solution is a draft again.")();
  });
  return (
    <PartnerPage ctx={ctx} title={solution.data?.name ? `Solution: ${solution.data.name}` : "Solution"}>
      {message && <Notice kind="success">{message}</Notice>}
      {solution.error !== undefined && solution.data === undefined ? (
        <RoleAwareProblem error={solution.error} title="Could not load the solution" />
      ) : (
        <LoadState loaded={solution} label="the solution">
          {(s) => {
            const status = s.status ?? "draft";
            const editable = status === "draft" || status === "published" || status === "suspended";
            return (
              <>
                <Section title="Status">
                  <p>
                    <StatusBadge status={status} /> <code>{s.solution_id}</code>
                  </p>
                  {status === "submitted" && <p>Waiting for an administrator's review. Withdraw it to change it.</p>}
                  {status === "published" && (
                    <p>
                      Published <DateTime value={s.published_at} />: the catalog shows it.{" "}
                      <a href={`/catalog/${s.solution_id ?? ""}`}>See it in the catalog</a>.
                    </p>
                  )}
                  {status === "suspended" && <p>Suspended by an administrator: usage is refused until it is reinstated.</p>}
                  {s.review_note && (
                    <p>
                      Reviewer's note: <span class="review-note">{s.review_note}</span>
                    </p>
                  )}
                  <RoleAwareProblem error={act.error} />
                  {mayChange ? (
                    <div class="actions">
                      {status === "draft" && (
                        <Button kind="primary" pending={act.pending} onClick={() => void act.run("submit")}>
                          Submit for review
                        </Button>
                      )}
                      {status === "submitted" && (
                        <Button pending={act.pending} onClick={() => void act.run("withdraw")}>
                          Withdraw
                        </Button>
                      )}
                      {status !== "retired" && (
                        <ConfirmButton
                          label="Retire"
                          kind="danger"
                          title={`Retire ${s.name ?? "this solution"}?`}
                          description={
                            <p>
                              Retiring is final: the solution leaves the catalog, its tokens stop working and the renewals
                              of its subscriptions stop.
                            </p>
                          }
                          confirmLabel="Retire for good"
                          onConfirm={async () => {
                            const r = await api.request("post", "/api/partners/solutions/{id}/retire", { path: { id: props.solution_id } });
                            done(`Retired. Subscriptions affected: ${r.affected_subscriptions ?? 0}.`)();
                          }}
                        />
                      )}
                    </div>
                  ) : (
                    <RoleNote>Your role ({ctx.role ?? "none"}) may see this solution; owners, admins and developers change it.</RoleNote>
                  )}
                </Section>
                <Section title="Live tiers and prices">
                  <TiersTable tiers={s.tiers ?? []} caption="Tiers and prices" />
                  {s.limit_overrides && Object.keys(s.limit_overrides).length > 0 && (
                    <p class="muted">
                      An administrator set the limits of: {Object.keys(s.limit_overrides).join(", ")} (they stay in force
                      over your limits).
                    </p>
                  )}
                </Section>
                {s.pending_tiers && (
                  <Section title="Pending change (waiting for approval)">
                    <TiersDiff live={s.tiers ?? []} pending={s.pending_tiers} />
                  </Section>
                )}
                {editable && mayChange && (
                  <Section title={status === "draft" ? "Edit the draft" : "Change the listing or tiers"}>
                    <SolutionForm
                      key={s.updated_at}
                      initial={s}
                      initialTiers={s.pending_tiers ?? s.tiers}
                      published={status !== "draft"}
                      submitLabel="Save changes"
                      onSave={async (input) => {
                        const saved = await api.request("put", "/api/partners/solutions/{id}", {
                          path: { id: props.solution_id },
                          body: input as components["schemas"]["SolutionPatch"],
                        });
                        done(
                          saved.pending_tiers && status !== "draft"
                            ? "Saved. The change of tiers or prices waits for an administrator's approval."
                            : "Saved.",
                        )();
                      }}
                    />
                  </Section>
                )}
                {status !== "retired" && mayChange && <Assets solution={s} onUploaded={done("Uploaded.")} />}
              </>
            );
          }}
        </LoadState>
      )}
    </PartnerPage>
  );
}

const KINDS = {
  logo: { label: "Logo", accept: "image/png,image/jpeg,image/webp", hint: "PNG, JPEG or WebP, at most 512 KiB." },
  docs: { label: "Documentation", accept: "application/pdf,text/markdown,.md", hint: "PDF or Markdown, at most 10 MiB." },
} as const;

/** A file's type as the API names it (browsers give Markdown no type). */
function contentType(file: File): string {
  if (file.type) return file.type;
  return /\.(md|markdown)$/i.test(file.name) ? "text/markdown" : "application/octet-stream";
}

function Assets(props: { solution: PartnerSolution; onUploaded: () => void }) {
  const [kind, setKind] = useState<"logo" | "docs">("logo");
  const [file, setFile] = useState<File>();
  const [blocked, setBlocked] = useState<string>();
  const upload = useAction(async () => {
    setBlocked(undefined);
    if (!file) throw new Error("Choose a file first.");
    const target = await api.request("post", "/api/partners/solutions/{id}/assets", {
      path: { id: props.solution.solution_id ?? "" },
      body: { kind, content_type: contentType(file) as components["schemas"]["AssetRequest"]["content_type"], size: file.size },
    });
    // Content-Length is set by the browser from the body; the other signed headers are sent as given.
    const headers = Object.fromEntries(Object.entries(target.headers ?? {}).filter(([name]) => name.toLowerCase() !== "content-length"));
    let answer: Response;
    try {
      // Not the API: the presigned storage URL the API gave.
      answer = await fetch(target.upload_url ?? "", { method: target.method ?? "PUT", headers, body: file });
    } catch {
      const origin = new URL(target.upload_url ?? "", location.href).origin;
      setBlocked(origin);
      throw new Error(`The browser could not send the file to ${origin}.`);
    }
    if (!answer.ok) throw new Error(`The storage refused the upload (HTTP ${answer.status}).`);
    props.onUploaded();
  });
  const assets = props.solution.assets ?? {};
  return (
    <Section title="Assets">
      {Object.keys(assets).length > 0 ? (
        <ul>
          {Object.entries(assets).map(([k, key]) => (
            <li key={k}>
              {k}: <code>{key}</code>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No logo or documentation yet.</p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void upload.run();
        }}
      >
        <Select
          label="Kind"
          name="kind"
          value={kind}
          onChange={(v) => setKind(v as "logo" | "docs")}
          options={[
            { value: "logo", label: KINDS.logo.label },
            { value: "docs", label: KINDS.docs.label },
          ]}
        />
        <div class="field">
          <label for="asset-file">File</label>
          <input
            id="asset-file"
            type="file"
            accept={KINDS[kind].accept}
            aria-describedby="asset-file-hint"
            onChange={(e) => setFile(e.currentTarget.files?.[0])}
          />
          <p id="asset-file-hint" class="hint">
            {KINDS[kind].hint}
          </p>
        </div>
        <RoleAwareProblem error={upload.error} title="Could not upload" />
        {blocked && (
          <p class="muted">
            The upload goes straight to storage at {blocked}; check your connection and try again.
          </p>
        )}
        <Button type="submit" pending={upload.pending} disabled={!file}>
          Upload
        </Button>
      </form>
    </Section>
  );
}
