import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import { MarketplaceClient, SessionEnded, type Tokens } from "../src/index.js";
import { sign, solutionClaims, testKey, mockServer } from "./helpers.js";

const API = "https://api.test";
const SOLUTION = "sol_01jc4x5y6z7a8b9c0d1e2f3g4h";
const server = mockServer();

const key = await testKey();
const token = (expiresIn: number, jti: string) =>
  sign(key, solutionClaims(SOLUTION, { exp: Math.floor(Date.now() / 1000) + expiresIn, jti }));
const context = (jti: string) => ({ user: { user_id: "usr_1", email: "u@example.test" }, solutions: [], token: { jti } });
const problem = (status: number, code: string) =>
  HttpResponse.json({ type: "x", title: code, status, code, detail: code }, { status, headers: { "content-type": "application/problem+json" } });

/** The API's refresh: single use, like the server (a reused refresh token ends the session). */
function refreshApi() {
  const used = new Set<string>();
  let n = 0;
  const seen: string[] = [];
  server.use(
    http.post(`${API}/api/refresh-token`, async ({ request }) => {
      const { refresh_token } = (await request.json()) as { refresh_token: string };
      if (used.has(refresh_token)) return problem(401, "refresh_token_reused");
      used.add(refresh_token);
      n++;
      return HttpResponse.json({ token: await token(900, `jti-${n}`), refresh_token: `rt-${n}`, token_type: "Bearer" });
    }),
    http.get(`${API}/api/user-context`, async ({ request }) => {
      const bearer = request.headers.get("authorization") ?? "";
      seen.push(bearer);
      const jti = JSON.parse(Buffer.from(bearer.split(".")[1] ?? "", "base64url").toString()).jti as string;
      return HttpResponse.json(context(jti));
    }),
  );
  return { refreshes: () => n, seen };
}

describe("sessions", () => {
  it("renews a token about to expire before using it, once for concurrent calls, and reports the new pair", async () => {
    const api = refreshApi();
    const client = new MarketplaceClient({ baseUrl: API, token: await token(10, "old"), refreshToken: "rt-0" });
    const renewed: Tokens[] = [];
    client.on("tokenRefreshed", (t) => renewed.push(t));
    const contexts = await Promise.all([1, 2, 3, 4, 5].map(() => client.getUserContext({ maxAgeMs: 0 })));
    expect(api.refreshes()).toBe(1);
    expect(contexts.map((c) => (c as unknown as { token: { jti: string } }).token.jti)).toEqual(Array(5).fill("jti-1"));
    expect(renewed).toEqual([{ token: expect.any(String), refreshToken: "rt-1" }]);
    expect(client.tokens?.refreshToken).toBe("rt-1");
  });

  it("caches the user context for its max age per token", async () => {
    const api = refreshApi();
    let now = Date.now();
    const client = new MarketplaceClient({ baseUrl: API, token: await token(900, "t"), refreshToken: "rt-0", now: () => now });
    await client.getUserContext();
    await client.getUserContext();
    expect(api.seen).toHaveLength(1);
    now += 31_000;
    await client.getUserContext();
    expect(api.seen).toHaveLength(2);
  });

  it("renews once on a 401 expired and sends the call again", async () => {
    refreshApi();
    let calls = 0;
    server.use(
      http.post(`${API}/api/track-usage`, ({ request }) => {
        calls++;
        if (request.headers.get("authorization")?.includes(".") && calls === 1) return problem(401, "expired");
        return HttpResponse.json({ allowed: true, used: 1, limit: 10, remaining: 9, reset_at: "2026-12-03T00:00:00Z" });
      }),
    );
    const client = new MarketplaceClient({ baseUrl: API, token: await token(900, "t"), refreshToken: "rt-0" });
    const result = await client.trackUsage({ action: "search" });
    expect(result.queued).toBe(false);
    expect(calls).toBe(2);
    expect(client.tokens?.refreshToken).toBe("rt-1");
  });

  it("ends the session when the refresh token was reused", async () => {
    refreshApi();
    const first = new MarketplaceClient({ baseUrl: API, token: await token(5, "a"), refreshToken: "rt-shared" });
    await first.refreshToken();
    // Another tab still holds the spent refresh token.
    const second = new MarketplaceClient({ baseUrl: API, token: await token(5, "b"), refreshToken: "rt-shared" });
    const ended: SessionEnded[] = [];
    second.on("sessionEnded", (e) => ended.push(e));
    const error = await second.getUserContext().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionEnded);
    expect((error as SessionEnded).code).toBe("refresh_token_reused");
    expect(ended).toHaveLength(1);
    expect(second.tokens).toBeUndefined();
  });
});
