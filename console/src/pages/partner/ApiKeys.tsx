// `/partner/:partner_id/api-keys`: the partner's API keys (never the keys themselves), a new key shown once,
// revocation. A key covers the solutions it names, or all of the partner's.
import { useState } from "preact/hooks";
import { api } from "../../session";
import { Button, ConfirmButton, DateTime, Field, LoadState, Notice, Section, SecretOnce, StatusBadge, Table } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import { PartnerPage, RoleAwareProblem, RoleNote, can, usePartner } from "./common";

export function PartnerApiKeys(props: { partner_id: string }) {
  const ctx = usePartner(props.partner_id);
  const id = props.partner_id;
  const keys = useLoad(() => api.request("get", "/api/partners/{id}/api-keys", { path: { id } }), [id]);
  const solutions = useLoad(() => api.request("get", "/api/partners/{id}/solutions", { path: { id } }), [id]);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<string[]>([]);
  const [secret, setSecret] = useState<string>();
  const [message, setMessage] = useState<string>();
  const create = useAction(async () => {
    setMessage(undefined);
    const created = await api.request("post", "/api/partners/{id}/api-keys", {
      path: { id },
      body: { name: name.trim(), ...(scope.length ? { solution_ids: scope } : {}) },
    });
    setSecret(created.key);
    setName("");
    setScope([]);
    keys.reload();
  });
  const names = new Map((solutions.data?.solutions ?? []).map((s) => [s.solution_id ?? "", s.name ?? ""]));
  const mayManage = can.manageSolutions(ctx.role);
  return (
    <PartnerPage ctx={ctx} title="API keys">
      <p>
        Your backend presents a key as <code>X-Api-Key</code> to validate users' tokens and to track their usage, for your
        own solutions only.
      </p>
      {message && <Notice kind="success">{message}</Notice>}
      {secret && (
        <Section title="Your new key">
          <SecretOnce label="API key" secret={secret} onDone={() => setSecret(undefined)} />
        </Section>
      )}
      {mayManage ? (
        <Section title="Create a key">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void create.run();
            }}
          >
            <Field label="Key name" name="name" required maxLength={100} hint="What uses it, e.g. production backend." value={name} onInput={setName} />
            <fieldset class="fieldset">
              <legend>Solutions it covers</legend>
              <p class="hint">None chosen: every solution of the partner, also later ones.</p>
              {(solutions.data?.solutions ?? []).map((s) => (
                <label class="check" key={s.solution_id}>
                  <input
                    type="checkbox"
                    checked={scope.includes(s.solution_id ?? "")}
                    onChange={(e) =>
                      setScope((cur) =>
                        e.currentTarget.checked ? [...cur, s.solution_id ?? ""] : cur.filter((x) => x !== s.solution_id),
                      )
                    }
                  />{" "}
                  {s.name} <StatusBadge status={s.status ?? "draft"} />
                </label>
              ))}
            </fieldset>
            <RoleAwareProblem error={create.error} title="Could not create the key" />
            <Button type="submit" kind="primary" pending={create.pending}>
              Create key
            </Button>
          </form>
        </Section>
      ) : (
        <RoleNote>Your role ({ctx.role ?? "none"}) does not manage API keys: owners, admins and developers do.</RoleNote>
      )}
      <Section title="Keys">
        {keys.error !== undefined && keys.data === undefined ? (
          <RoleAwareProblem error={keys.error} title="Could not load the keys" />
        ) : (
          <LoadState loaded={keys} label="the keys">
            {(data) => (
              <Table
                caption="API keys"
                rows={data.keys ?? []}
                rowKey={(k) => k.key_id ?? ""}
                empty="No key yet."
                columns={[
                  { header: "Name", cell: (k) => k.name },
                  { header: "Starts with", cell: (k) => <code>{k.prefix}…</code> },
                  {
                    header: "Solutions",
                    cell: (k) => (k.solution_ids?.length ? k.solution_ids.map((s) => names.get(s) || s).join(", ") : "All"),
                  },
                  { header: "Created", cell: (k) => <DateTime value={k.created_at} /> },
                  {
                    header: "Status",
                    cell: (k) =>
                      k.revoked_at ? (
                        <>
                          <StatusBadge status="revoked" /> <DateTime value={k.revoked_at} />
                        </>
                      ) : (
                        <StatusBadge status="active" />
                      ),
                  },
                  {
                    header: "Actions",
                    cell: (k) =>
                      !k.revoked_at && mayManage ? (
                        <ConfirmButton
                          label={`Revoke ${k.name ?? "key"}`}
                          kind="danger"
                          title={`Revoke the key ${k.name ?? ""}?`}
                          description={<p>Calls with this key fail at once. This cannot be undone.</p>}
                          confirmLabel="Revoke"
                          onConfirm={async () => {
                            await api.request("delete", "/api/partners/{id}/api-keys/{key_id}", { path: { id, key_id: k.key_id ?? "" } });
                            setMessage(`The key ${k.name ?? ""} is revoked.`);
                            keys.reload();
                          }}
                        />
                      ) : (
                        "—"
                      ),
                  },
                ]}
              />
            )}
          </LoadState>
        )}
      </Section>
    </PartnerPage>
  );
}
