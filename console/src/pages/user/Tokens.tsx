import { useState } from "preact/hooks";
import { api, useSession } from "../../session";
import {
  Button,
  ConfirmButton,
  DateTime,
  LoadState,
  Notice,
  Page,
  ProblemAlert,
  SecretOnce,
  Section,
  Select,
  Table,
  fieldErrors,
} from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import { Pager, type Schemas, nameOf, usePages, useUserSolutions } from "./shared";

type TokenInfo = Schemas["TokenInfo"];

const LIFETIMES = [
  { value: "900", label: "15 minutes" },
  { value: "1800", label: "30 minutes" },
  { value: "3600", label: "1 hour" },
];

/** `/tokens`: the user's live tokens, a new solution token (shown once), revocation. */
export function Tokens() {
  const s = useSession();
  const solutions = useUserSolutions();
  const pages = usePages();
  const cursor = pages.cursor;
  const tokens = useLoad(() => api.request("get", "/api/tokens", { query: { limit: 50, cursor } }), [cursor]);
  const teams = s.orgs.filter((o) => o.kind === "team");
  const [solutionId, setSolutionId] = useState("");
  const [actsFor, setActsFor] = useState("");
  const [ttl, setTtl] = useState("900");
  const generate = useAction(async () => {
    const chosen = solutionId || solutions.data?.[0]?.solution_id || "";
    const token = await api.request("post", "/api/generate-token", {
      body: { solution_id: chosen, ttl_seconds: Number(ttl), ...(actsFor ? { org_id: actsFor } : {}) },
    });
    tokens.reload();
    return token;
  });
  const errors = fieldErrors(generate.error);
  const [revokedId, setRevokedId] = useState<string>();
  const revoke = async (token: TokenInfo) => {
    await api.request("delete", "/api/revoke-token", { body: { token_id: token.token_id } });
    setRevokedId(token.token_id);
    tokens.reload();
  };
  const current = s.context?.token.token_id;
  return (
    <Page title="Tokens">
      <Section title="Generate a solution token">
        <p>
          A solution token lets an app use one solution on your behalf (it tracks usage against your quota). It is
          short-lived and comes with a refresh token that renews it.
        </p>
        <LoadState loaded={solutions} label="your solutions">
          {(list) => (
            <form
              class="narrow"
              onSubmit={(e) => {
                e.preventDefault();
                void generate.run();
              }}
            >
              <Select
                label="Solution"
                name="solution_id"
                value={solutionId || list[0]?.solution_id || ""}
                onChange={setSolutionId}
                options={list.map((x) => ({ value: x.solution_id, label: `${x.name} (${x.tier})` }))}
                error={errors["solution_id"]}
              />
              {teams.length > 0 && (
                <Select
                  label="Acts for"
                  name="org_id"
                  value={actsFor}
                  onChange={setActsFor}
                  options={[
                    { value: "", label: "Me (my own tier and quota)" },
                    ...teams.map((t) => ({ value: t.org_id, label: `${t.name} (the team's tier and shared quota)` })),
                  ]}
                  error={errors["org_id"]}
                />
              )}
              <Select label="Lifetime" name="ttl_seconds" value={ttl} onChange={setTtl} options={LIFETIMES} error={errors["ttl_seconds"]} />
              <ProblemAlert error={generate.error} title="Could not generate a token" />
              <Button type="submit" kind="primary" pending={generate.pending}>
                Generate token
              </Button>
            </form>
          )}
        </LoadState>
        {generate.result && (
          <div class="token-result">
            <Notice kind="success">
              Token for {nameOf(solutions.data, generate.result.solution_id)} ({generate.result.tier} tier), valid until{" "}
              <DateTime value={generate.result.expires_at} />.
            </Notice>
            <SecretOnce label="Solution token" secret={generate.result.token} />
            <SecretOnce label="Refresh token" secret={generate.result.refresh_token} onDone={generate.reset} />
          </div>
        )}
      </Section>
      <Section title="My live tokens">
        {revokedId && <Notice kind="success">Token {revokedId} is revoked.</Notice>}
        <LoadState loaded={tokens} label="your tokens">
          {(data) => (
            <>
              <Table
                caption="My live tokens"
                rows={data.tokens}
                rowKey={(t) => t.token_id}
                empty="No live tokens."
                columns={[
                  { header: "Token", cell: (t) => <code>{t.token_id}</code> },
                  {
                    header: "Kind",
                    cell: (t) =>
                      t.kind === "session" ? (t.token_id === current ? "Session (this console)" : "Session") : "Solution",
                  },
                  { header: "Solution", cell: (t) => (t.solution_id ? nameOf(solutions.data, t.solution_id) : "—") },
                  { header: "Scopes", cell: (t) => t.scopes.join(", ") || "—" },
                  { header: "Issued", cell: (t) => <DateTime value={t.issued_at} /> },
                  { header: "Expires", cell: (t) => <DateTime value={t.expires_at} /> },
                  {
                    header: "Actions",
                    cell: (t) =>
                      t.token_id === current ? (
                        <span class="muted">Sign out to end it</span>
                      ) : (
                        <ConfirmButton
                          label="Revoke"
                          title="Revoke this token?"
                          description={
                            <p>
                              {t.kind === "solution"
                                ? `Apps using this token for ${nameOf(solutions.data, t.solution_id)} stop working at once, and its refresh token too.`
                                : "The session using this token is signed out."}
                            </p>
                          }
                          confirmLabel="Revoke"
                          kind="danger"
                          onConfirm={() => revoke(t)}
                        />
                      ),
                  },
                ]}
              />
              <Pager pages={pages} next={data.next_cursor} label="Token pages" />
            </>
          )}
        </LoadState>
      </Section>
    </Page>
  );
}
