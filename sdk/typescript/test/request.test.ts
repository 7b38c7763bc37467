import { http, HttpResponse } from "msw";
import { describe, expect, expectTypeOf, it } from "vitest";
import { queryString } from "../src/api.js";
import { ApiError, MarketplaceClient, type components } from "../src/index.js";
import { mockServer, sign, solutionClaims, testKey } from "./helpers.js";

const API = "https://api.test";
const ORG = "org_01jc4x5y6z7a8b9c0d1e2f3g4h";
const USER = "usr_01jc4x5y6z7a8b9c0d1e2f3g4h";
const SOLUTION = "sol_01jc4x5y6z7a8b9c0d1e2f3g4h";
const server = mockServer();

const key = await testKey();
/** A bearer token that is not about to expire (the client renews it only on a 401 `expired`). */
const token = (jti: string) => sign(key, solutionClaims(SOLUTION, { jti, exp: Math.floor(Date.now() / 1000) + 900 }));
const problem = (status: number, code: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  HttpResponse.json(
    { type: `https://docs.monetization.example/problems/${code}`, title: code, status, code, detail: code, ...extra },
    { status, headers: { "content-type": "application/problem+json", ...headers } },
  );
const org = (id: string) => ({ org_id: id, name: "Team", kind: "team", role: "owner", customer_id: id, member_count: 1 });
const page = { customer_id: USER, subscriptions: [], next_cursor: null };

/** A client that never waits, recording the waits it would have made. */
function client(options: Partial<ConstructorParameters<typeof MarketplaceClient>[0]> = {}) {
  const waits: number[] = [];
  const c = new MarketplaceClient({
    baseUrl: API,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  return { c, waits };
}

/** Every request the API saw, as sent (raw path and query, headers, body). */
function recorder() {
  const seen: { method: string; path: string; search: string; headers: Headers; body: string }[] = [];
  const record = async (request: Request) => {
    const url = new URL(request.url);
    seen.push({ method: request.method, path: url.pathname, search: url.search, headers: request.headers, body: await request.clone().text() });
  };
  /** A handler that records the request and answers `answer`'s response. */
  const answering =
    (answer: () => Response) =>
    async ({ request }: { request: Request }) => {
      await record(request);
      return answer();
    };
  return { seen, record, answering };
}

describe("request: paths, queries, bodies", () => {
  it("fills the path parameters, percent-encoding each", async () => {
    const { seen, answering } = recorder();
    server.use(
      http.get(`${API}/api/orgs/:org_id`, answering(() => HttpResponse.json(org(ORG)))),
      http.put(`${API}/api/orgs/:org_id/members/:user_id`, answering(() => HttpResponse.json({ user_id: USER, role: "admin" }))),
    );
    const { c } = client({ token: "t" });
    const got = await c.request("get", "/api/orgs/{org_id}", { path: { org_id: ORG } });
    expect(got.org_id).toBe(ORG);
    await c.request("get", "/api/orgs/{org_id}", { path: { org_id: "org_a/b c?d#e%" } });
    await c.request("put", "/api/orgs/{org_id}/members/{user_id}", { path: { org_id: ORG, user_id: "usr_ü" }, body: { role: "admin" } });
    expect(seen.map((s) => s.path)).toEqual([
      `/api/orgs/${ORG}`,
      "/api/orgs/org_a%2Fb%20c%3Fd%23e%25",
      `/api/orgs/${ORG}/members/usr_%C3%BC`,
    ]);
    // A slash in a value never reaches another route; the query stays empty.
    expect(seen[1]?.search).toBe("");
    expect(seen[2]?.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(seen[2]?.body ?? "null")).toEqual({ role: "admin" });
  });

  it("sends the query's defined values, encoded; arrays repeat the name", async () => {
    const { seen, answering } = recorder();
    server.use(
      http.get(`${API}/api/subscriptions`, answering(() => HttpResponse.json(page))),
      http.get(`${API}/api/admin/users`, answering(() => HttpResponse.json({ user_id: USER, email: "ada@example.com", name: "Ada", role: "user", email_verified: true, created_at: "2026-12-01T00:00:00Z" }))),
    );
    const { c } = client({ token: "t" });
    const answer = await c.request("get", "/api/subscriptions", { query: { customer_id: ORG, limit: 10, cursor: undefined } });
    expect(answer.next_cursor).toBeNull();
    await c.request("get", "/api/subscriptions");
    const user = await c.request("get", "/api/admin/users", { query: { email: "Ada+billing@Example.com" } });
    expect(user.user_id).toBe(USER);
    // No documented operation takes an array yet: the encoding, through the client and alone.
    await c.request("get", "/api/subscriptions", { query: { solution_id: [SOLUTION, "sol_b"] } as never });
    expect(seen.map((s) => s.search)).toEqual([
      `?customer_id=${ORG}&limit=10`,
      "",
      "?email=Ada%2Bbilling%40Example.com",
      `?solution_id=${SOLUTION}&solution_id=sol_b`,
    ]);
    expect(queryString({ tag: ["a b", "c&d"], n: 0, yes: false, none: null, gone: undefined })).toBe("?tag=a+b&tag=c%26d&n=0&yes=false");
    expect(queryString({})).toBe("");
    expect(queryString(undefined)).toBe("");
  });

  it("throws before sending when a path parameter is missing or empty", async () => {
    let calls = 0;
    server.use(
      http.all(`${API}/*`, () => {
        calls++;
        return HttpResponse.json({});
      }),
    );
    const { c } = client({ token: "t" });
    await expect(c.request("get", "/api/orgs/{org_id}", { path: { org_id: "" } })).rejects.toThrow(/missing path parameter org_id/);
    const partial = { org_id: ORG } as { org_id: string; user_id: string };
    await expect(c.request("delete", "/api/orgs/{org_id}/members/{user_id}", { path: partial })).rejects.toThrow(
      /missing path parameter user_id/,
    );
    await expect(c.request("get", "/api/orgs/{org_id}", {} as never)).rejects.toBeInstanceOf(TypeError);
    expect(calls).toBe(0);
  });

  it("answers undefined for a 204", async () => {
    server.use(http.delete(`${API}/api/orgs/:org_id/members/:user_id`, () => new HttpResponse(null, { status: 204 })));
    const { c } = client({ token: "t" });
    const answer = await c.request("delete", "/api/orgs/{org_id}/members/{user_id}", { path: { org_id: ORG, user_id: USER } });
    expect(answer).toBeUndefined();
  });

  it("turns a problem answer into an ApiError with its code, status and fields", async () => {
    server.use(
      http.get(`${API}/api/orgs/:org_id`, () =>
        problem(404, "org_not_found", { errors: [{ field: "org_id", message: "no organization with this id has you as a member" }] }),
      ),
      http.get(`${API}/api/subscriptions`, () => problem(400, "validation_failed", { errors: [{ field: "limit", message: "must be an integer from 1 to 100" }] })),
    );
    const { c, waits } = client({ token: "t" });
    const error = await c.request("get", "/api/orgs/{org_id}", { path: { org_id: ORG } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect([apiError.status, apiError.code, apiError.is("org_not_found")]).toEqual([404, "org_not_found", true]);
    expect(apiError.problem.errors?.[0]?.field).toBe("org_id");
    const invalid = await c.request("get", "/api/subscriptions", { query: { limit: 1 } }).catch((e: unknown) => e);
    expect([(invalid as ApiError).status, (invalid as ApiError).code]).toEqual([400, "validation_failed"]);
    // A 4xx is never retried.
    expect(waits).toEqual([]);
  });
});

describe("request: credentials", () => {
  it("sends the bearer token and the API key", async () => {
    const { seen, answering } = recorder();
    server.use(
      http.get(`${API}/api/subscriptions`, answering(() => HttpResponse.json(page))),
    );
    const session = await token("session");
    await client({ token: session, apiKey: "mk_test" }).c.request("get", "/api/subscriptions");
    await client({ token: () => "from-the-app" }).c.request("get", "/api/subscriptions");
    await client().c.request("get", "/api/subscriptions");
    expect(seen.map((s) => [s.headers.get("authorization"), s.headers.get("x-api-key")])).toEqual([
      [`Bearer ${session}`, "mk_test"],
      ["Bearer from-the-app", null],
      [null, null],
    ]);
  });

  it("renews the token once on a 401 expired and sends the call again with the new one", async () => {
    const bearers: (string | null)[] = [];
    let refreshes = 0;
    const renewed = await token("renewed");
    server.use(
      http.post(`${API}/api/refresh-token`, async ({ request }) => {
        refreshes++;
        expect(await request.json()).toEqual({ refresh_token: "rt-0" });
        return HttpResponse.json({ access_token: renewed, refresh_token: "rt-1", token_type: "Bearer", expires_in: 900 });
      }),
      http.post(`${API}/api/orgs`, async ({ request }) => {
        bearers.push(request.headers.get("authorization"));
        return bearers.length === 1 ? problem(401, "expired") : HttpResponse.json(org(ORG), { status: 201 });
      }),
    );
    const old = await token("old");
    const { c } = client({ token: old, refreshToken: "rt-0" });
    const created = await c.request("post", "/api/orgs", { body: { name: "Team" } });
    expect(created.org_id).toBe(ORG);
    expect(bearers).toEqual([`Bearer ${old}`, `Bearer ${renewed}`]);
    expect(refreshes).toBe(1);
    expect(c.tokens).toEqual({ token: renewed, refreshToken: "rt-1" });
  });

  it("renews only once: a second 401 expired is the caller's", async () => {
    let calls = 0;
    let refreshes = 0;
    server.use(
      http.post(`${API}/api/refresh-token`, async () => {
        refreshes++;
        return HttpResponse.json({ access_token: await token(`r${refreshes}`), refresh_token: `rt-${refreshes}` });
      }),
      http.get(`${API}/api/subscriptions`, () => {
        calls++;
        return problem(401, "expired");
      }),
    );
    const { c } = client({ token: await token("old"), refreshToken: "rt-0" });
    const error = await c.request("get", "/api/subscriptions").catch((e: unknown) => e);
    expect([(error as ApiError).status, (error as ApiError).code]).toEqual([401, "expired"]);
    expect([calls, refreshes]).toEqual([2, 1]);
  });

  it("does not renew on another 401, nor without a refresh token", async () => {
    let refreshes = 0;
    server.use(
      http.post(`${API}/api/refresh-token`, () => {
        refreshes++;
        return HttpResponse.json({});
      }),
      http.get(`${API}/api/admin/users`, () => problem(401, "wrong_token_kind")),
      http.get(`${API}/api/subscriptions`, () => problem(401, "expired")),
    );
    const withRefresh = client({ token: await token("t"), refreshToken: "rt-0" }).c;
    const kind = await withRefresh.request("get", "/api/admin/users", { query: { email: "a@example.com" } }).catch((e: unknown) => e);
    expect((kind as ApiError).code).toBe("wrong_token_kind");
    const noRefresh = client({ token: await token("t") }).c;
    const expired = await noRefresh.request("get", "/api/subscriptions").catch((e: unknown) => e);
    expect((expired as ApiError).code).toBe("expired");
    expect(refreshes).toBe(0);
  });
});

describe("request: retries", () => {
  it("retries a GET on 503, waiting Retry-After", async () => {
    let calls = 0;
    server.use(
      http.get(`${API}/api/subscriptions`, () => {
        calls++;
        return calls < 3 ? problem(503, "service_unavailable", {}, { "retry-after": "1" }) : HttpResponse.json(page);
      }),
    );
    const { c, waits } = client({ token: "t" });
    const answer = await c.request("get", "/api/subscriptions", { query: { limit: 5 } });
    expect(answer.customer_id).toBe(USER);
    expect([calls, waits]).toEqual([3, [1000, 1000]]);
  });

  it("gives up on a GET after the policy's retries", async () => {
    let calls = 0;
    server.use(
      http.get(`${API}/api/orgs/:org_id`, () => {
        calls++;
        return problem(503, "service_unavailable");
      }),
    );
    const { c, waits } = client({ token: "t", retry: { maxRetries: 2 } });
    const error = await c.request("get", "/api/orgs/{org_id}", { path: { org_id: ORG } }).catch((e: unknown) => e);
    expect([(error as ApiError).status, calls, waits.length]).toEqual([503, 3, 2]);
  });

  it("sends a POST without an Idempotency-Key once, even on 503", async () => {
    let calls = 0;
    server.use(
      http.post(`${API}/api/orgs`, () => {
        calls++;
        return problem(503, "service_unavailable", {}, { "retry-after": "1" });
      }),
    );
    const { c, waits } = client({ token: "t" });
    const error = await c.request("post", "/api/orgs", { body: { name: "Team" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect([(error as ApiError).status, calls, waits]).toEqual([503, 1, []]);
  });

  it("does not retry a POST without an Idempotency-Key on a network error either", async () => {
    let calls = 0;
    server.use(
      http.post(`${API}/api/orgs`, () => {
        calls++;
        return HttpResponse.error();
      }),
    );
    const { c } = client({ token: "t" });
    await expect(c.request("post", "/api/orgs", { body: { name: "Team" } })).rejects.toThrow(/no answer/);
    expect(calls).toBe(1);
  });

  it("retries a POST that carries an Idempotency-Key, with the same key and body", async () => {
    const { seen, record } = recorder();
    server.use(
      http.post(`${API}/api/subscriptions`, async ({ request }) => {
        await record(request);
        if (seen.length < 3) return seen.length === 1 ? problem(503, "service_unavailable") : HttpResponse.error();
        return HttpResponse.json(
          { subscription_id: "sub_1", status: "pending", checkout_url: "https://pay", tier: "pro", period: "monthly", price: { amount: 49900, currency: "inr" } },
          { status: 201 },
        );
      }),
    );
    const { c, waits } = client({ token: "t" });
    const body = { solution_id: SOLUTION, tier: "pro", provider: "stripe", period: "monthly" } as const;
    const created = await c.request("post", "/api/subscriptions", { body, headers: { "Idempotency-Key": "buy-1" } });
    expect(created.subscription_id).toBe("sub_1");
    expect(seen.map((s) => s.headers.get("idempotency-key"))).toEqual(["buy-1", "buy-1", "buy-1"]);
    expect(new Set(seen.map((s) => s.body))).toEqual(new Set([JSON.stringify(body)]));
    expect(waits).toHaveLength(2);
  });

  it("retries a DELETE (idempotent) on 503", async () => {
    let calls = 0;
    server.use(
      http.delete(`${API}/api/orgs/:org_id/members/:user_id`, () => {
        calls++;
        return calls === 1 ? problem(503, "service_unavailable") : new HttpResponse(null, { status: 204 });
      }),
    );
    const { c } = client({ token: "t" });
    await expect(c.request("delete", "/api/orgs/{org_id}/members/{user_id}", { path: { org_id: ORG, user_id: USER } })).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });
});

// Type-level checks (`tsc --noEmit` compiles this file; never called): what the OpenAPI does not document
// does not compile.
export function typeChecks(c: MarketplaceClient): void {
  // @ts-expect-error an undocumented path
  void c.request("get", "/api/nope");
  // @ts-expect-error a documented path, but not for this method
  void c.request("get", "/api/auth/login");
  // @ts-expect-error an unknown method
  void c.request("head", "/api/subscriptions");
  // @ts-expect-error the required body is missing
  void c.request("post", "/api/orgs");
  // @ts-expect-error the required body is missing (other members given)
  void c.request("post", "/api/orgs", { headers: {} });
  // @ts-expect-error the body lacks a required member
  void c.request("post", "/api/orgs", { body: {} });
  // @ts-expect-error the body has a member of the wrong type
  void c.request("post", "/api/orgs", { body: { name: 7 } });
  // @ts-expect-error a body where the operation takes none
  void c.request("get", "/api/subscriptions", { body: { name: "x" } });
  // @ts-expect-error the path parameters are missing
  void c.request("get", "/api/orgs/{org_id}");
  // @ts-expect-error one of two path parameters is missing
  void c.request("delete", "/api/orgs/{org_id}/members/{user_id}", { path: { org_id: ORG } });
  // @ts-expect-error a path parameter of another name
  void c.request("get", "/api/orgs/{org_id}", { path: { id: ORG } });
  // @ts-expect-error a query parameter of the wrong type
  void c.request("get", "/api/subscriptions", { query: { limit: "ten" } });
  // @ts-expect-error a required query parameter is missing
  void c.request("get", "/api/admin/users", { query: {} });
  // @ts-expect-error a tier that does not exist
  void c.request("post", "/api/subscriptions", { body: { solution_id: SOLUTION, tier: "gold", provider: "stripe" } });

  // What compiles, and what it answers: no init where nothing is required (a query of optional parameters,
  // an optional body), and the documented answer.
  void c.request("get", "/api/subscriptions");
  void c.request("post", "/api/admin/partners/{id}/approve", { path: { id: "ptn_1" } });
  void c.request("post", "/api/admin/partners/{id}/approve", { path: { id: "ptn_1" }, body: { commission_bp: 1500 } });
  // @ts-expect-error an optional body is still typed
  void c.request("post", "/api/admin/partners/{id}/approve", { path: { id: "ptn_1" }, body: { commission_bp: "x" } });
  expectTypeOf(c.request("get", "/api/subscriptions")).resolves.toEqualTypeOf<components["schemas"]["SubscriptionPage"]>();
  expectTypeOf(c.request("get", "/api/admin/users", { query: { email: "a@example.com" } })).resolves.toEqualTypeOf<
    components["schemas"]["User"]
  >();
  expectTypeOf(c.request("delete", "/api/orgs/{org_id}/members/{user_id}", { path: { org_id: ORG, user_id: USER } })).resolves.toEqualTypeOf<undefined>();
  expectTypeOf(c.request("post", "/api/orgs", { body: { name: "Team" } })).resolves.toMatchTypeOf<{ org_id: string }>();
}
