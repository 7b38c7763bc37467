// The local stack's demo partner (`make dev` state) and a fresh user with a solution token for its demo solution.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export const base = process.env.SDK_API_URL;
export const stateDir = process.env.DEV_STATE_DIR;

export async function api(method: string, path: string, body?: unknown, bearer?: string) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

export async function partnerAndUser() {
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
  return { solutionId, apiKey: key.key as string, user, issued };
}
