// Against the real local stack (`make dev`; `make test` sets SDK_API_URL and DEV_STATE_DIR): the partner backend
// example meters through a network that fails mid-way, and the API's count is exactly the number of uses.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { partnerBackend } from "../examples/partner-backend.js";

const base = process.env.SDK_API_URL;
const stateDir = process.env.DEV_STATE_DIR;

async function api(method: string, path: string, body?: unknown, bearer?: string) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

describe.skipIf(!base || !stateDir)("against the local stack", () => {
  it("the partner backend example counts every use exactly once through a failing network", async () => {
    const state = JSON.parse(await readFile(join(stateDir ?? "", "dev-state", "state.json"), "utf8")) as Record<string, string>;
    const solutionId = state.solution_id as string;
    const partner = await api("POST", "/api/auth/login", { email: state.partner_email, password: state.partner_password });
    const key = await api(
      "POST",
      `/api/partners/${state.partner_id}/api-keys`,
      { name: `sdk-${Date.now()}`, solution_ids: [solutionId] },
      partner.access_token as string,
    );
    const email = `sdk-${Date.now()}-${Math.random().toString(36).slice(2)}@example.test`;
    const user = await api("POST", "/api/auth/register", { email, password: "a long enough password", name: "SDK" });
    const issued = await api("POST", "/api/generate-token", { solution_id: solutionId }, user.access_token as string);

    // The network: calls 4-7 never leave (connection refused); call 10 reaches the API but its answer is lost.
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls++;
      if (calls >= 4 && calls <= 7) throw new TypeError("fetch failed (injected: no network)");
      const response = await fetch(input, init);
      if (calls === 10) throw new TypeError("fetch failed (injected: the answer was lost)");
      return response;
    };
    const uses = 12;
    const run = await partnerBackend({
      baseUrl: base ?? "",
      apiKey: key.key as string,
      solutionId,
      userToken: issued.token as string,
      uses,
      fetch: flaky,
    });
    expect(run.user).toBe(user.user_id);
    expect(run.outcomes.queued).toBeGreaterThan(0);
    expect(run.pending).toBe(0);
    const quota = await api("GET", `/api/quotas/${user.user_id}/${solutionId}`, undefined, user.access_token as string);
    expect(quota.used).toBe(uses);
  });
});
