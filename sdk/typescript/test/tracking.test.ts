import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import { mockServer } from "./helpers.js";
import { ApiError, MarketplaceClient, QuotaExceeded, SpendingCapReached, type QuotaView } from "../src/index.js";
import { FileStorage } from "../src/node.js";

const API = "https://api.test";
const server = mockServer();

const answer = (used: number, limit = 100) => ({
  allowed: true,
  used,
  limit,
  remaining: limit - used,
  reset_at: "2026-12-03T00:00:00Z",
});
const problem = (status: number, code: string, extra: Record<string, unknown> = {}) =>
  HttpResponse.json(
    { type: `https://docs/${code}`, title: code, status, code, detail: code, ...extra },
    { status, headers: { "content-type": "application/problem+json" } },
  );

/** A client that never waits, recording the waits it would have made. */
function client(options: Partial<ConstructorParameters<typeof MarketplaceClient>[0]> = {}) {
  const waits: number[] = [];
  const c = new MarketplaceClient({
    baseUrl: API,
    apiKey: "mk_test",
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  return { c, waits };
}

/** The API's counting: one count per idempotency key, like the server (for the queue tests). */
function countingApi(fail: () => boolean) {
  const counted = new Map<string, number>();
  const order: string[] = [];
  const count = (body: { idempotency_key: string; quantity?: number }) => {
    if (!counted.has(body.idempotency_key)) {
      counted.set(body.idempotency_key, body.quantity ?? 1);
      order.push(body.idempotency_key);
    }
    return answer([...counted.values()].reduce((a, b) => a + b, 0));
  };
  server.use(
    http.post(`${API}/api/track-usage`, async ({ request }) => {
      if (fail()) return HttpResponse.error();
      return HttpResponse.json(count((await request.json()) as never));
    }),
    http.post(`${API}/api/track-usage/batch`, async ({ request }) => {
      if (fail()) return HttpResponse.error();
      const { events } = (await request.json()) as { events: never[] };
      const results = events.map((e) => ({ status: 200, answer: count(e) }));
      return HttpResponse.json({ results, counted: results.length, refused: 0, failed: 0 });
    }),
  );
  return { counted, order };
}

describe("trackUsage", () => {
  it("retries 5xx and network errors with one idempotency key, backing off with jitter", async () => {
    const keys: (string | undefined)[] = [];
    let calls = 0;
    server.use(
      http.post(`${API}/api/track-usage`, async ({ request }) => {
        keys.push(((await request.json()) as { idempotency_key?: string }).idempotency_key);
        calls++;
        if (calls === 1) return HttpResponse.error();
        if (calls === 2) return problem(503, "service_unavailable");
        return HttpResponse.json(answer(1), {
          headers: { "ratelimit-limit": "100", "ratelimit-remaining": "99", "ratelimit-reset": "3600" },
        });
      }),
    );
    const { c, waits } = client();
    const result = await c.trackUsage({ action: "search", customerId: "usr_1", solutionId: "sol_1" });
    expect(result.queued).toBe(false);
    expect(calls).toBe(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toBe(result.key);
    // Full jitter (random 0.5) on 200 ms, then 400 ms.
    expect(waits).toEqual([100, 200]);
    expect(c.quota("sol_1", "usr_1")).toMatchObject({ limit: 100, remaining: 99 });
  });

  it("honours Retry-After and never retries a 4xx", async () => {
    let calls = 0;
    server.use(
      http.post(`${API}/api/track-usage`, () => {
        calls++;
        return calls === 1
          ? HttpResponse.json({ type: "x", title: "x", status: 503, code: "service_unavailable" }, { status: 503, headers: { "retry-after": "2" } })
          : problem(400, "validation_failed", { errors: [{ field: "action", message: "bad" }] });
      }),
    );
    const { c, waits } = client({ queue: false });
    const error = await c.trackUsage({ action: "" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("validation_failed");
    expect(calls).toBe(2);
    expect(waits).toEqual([2000]);
  });

  it("surfaces a refusal as QuotaExceeded (not retried, not queued) and warns near the limit", async () => {
    let calls = 0;
    server.use(
      http.post(`${API}/api/track-usage`, () => {
        calls++;
        if (calls === 1) {
          return HttpResponse.json(answer(9, 10), {
            headers: { "ratelimit-limit": "10", "ratelimit-remaining": "1", "ratelimit-reset": "60" },
          });
        }
        return HttpResponse.json(
          { type: "x", title: "Quota exceeded", status: 429, code: "quota_exceeded", allowed: false, used: 10, limit: 10, reset_at: "2026-12-03T00:00:00Z" },
          { status: 429, headers: { "retry-after": "3600", "content-type": "application/problem+json" } },
        );
      }),
    );
    const { c } = client();
    const warnings: QuotaView[] = [];
    const exceeded: QuotaExceeded[] = [];
    c.on("quotaWarning", (v) => warnings.push(v));
    c.on("quotaExceeded", (e) => exceeded.push(e));
    await c.trackUsage({ action: "search" });
    expect(warnings).toHaveLength(1);
    const error = await c.trackUsage({ action: "search" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExceeded);
    expect((error as QuotaExceeded).resetAt.toISOString()).toBe("2026-12-03T00:00:00.000Z");
    expect((error as QuotaExceeded).retryAfter).toBe(3600);
    expect(calls).toBe(2);
    expect(exceeded).toHaveLength(1);
    expect(await c.pending()).toEqual([]);
  });
});

describe("usage-based pricing", () => {
  const period = {
    period_start: "2026-11-01T00:00:00Z",
    period_end: "2026-12-01T00:00:00Z",
    included: 100000,
    used: 150000,
    overage: 50000,
    limit: "soft",
    overage_charge: 50000,
    projected_charge: 50000,
    currency: "inr",
    spending_cap: 50000,
    cap_reached: true,
  };

  it("sends an event's own timestamp (a string as given, a Date as UTC), also from the queue", async () => {
    const bodies: Record<string, unknown>[] = [];
    let offline = false;
    server.use(
      http.post(`${API}/api/track-usage`, async ({ request }) => {
        if (offline) return HttpResponse.error();
        bodies.push((await request.json()) as Record<string, unknown>);
        return HttpResponse.json(answer(1));
      }),
      http.post(`${API}/api/track-usage/batch`, async ({ request }) => {
        const { events } = (await request.json()) as { events: Record<string, unknown>[] };
        bodies.push(...events);
        const results = events.map(() => ({ status: 200, answer: answer(1) }));
        return HttpResponse.json({ results, counted: results.length, refused: 0, failed: 0 });
      }),
    );
    const { c } = client({ retry: { maxRetries: 0 } });
    await c.trackUsage({ action: "search", timestamp: "2026-11-30T23:59:30+05:30" });
    await c.trackUsage({ action: "search", timestamp: new Date(Date.UTC(2026, 10, 30, 23, 59, 30)) });
    await c.trackUsage({ action: "search" });
    offline = true;
    await c.trackUsage({ action: "late", timestamp: "2026-11-30T23:59:59Z" });
    expect((await c.pending())[0]?.body.timestamp).toBe("2026-11-30T23:59:59Z");
    offline = false;
    expect(await c.flush()).toMatchObject({ sent: 1, counted: 1, remaining: 0 });
    expect(bodies.map((b) => b["timestamp"])).toEqual([
      "2026-11-30T23:59:30+05:30",
      "2026-11-30T23:59:30.000Z",
      undefined,
      "2026-11-30T23:59:59Z",
    ]);
  });

  it("surfaces the spending cap as SpendingCapReached, a QuotaExceeded (not retried, not queued), with the period", async () => {
    let calls = 0;
    server.use(
      http.post(`${API}/api/track-usage`, () => {
        calls++;
        return problem(429, "spending_cap_reached", {
          allowed: false,
          used: 4210,
          limit: null,
          reset_at: "2026-12-01T00:00:00Z",
          refused_by: "spending_cap",
          billing_period: period,
        });
      }),
    );
    const { c, waits } = client();
    const exceeded: QuotaExceeded[] = [];
    c.on("quotaExceeded", (e) => exceeded.push(e));
    const error = await c.trackUsage({ action: "search" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpendingCapReached);
    expect(error).toBeInstanceOf(QuotaExceeded);
    const cap = error as SpendingCapReached;
    expect(cap.code).toBe("spending_cap_reached");
    expect(cap.refusedBy).toBe("spending_cap");
    expect(cap.billingPeriod).toMatchObject({ period_end: "2026-12-01T00:00:00Z", spending_cap: 50000, cap_reached: true });
    expect(cap.resetAt.toISOString()).toBe("2026-12-01T00:00:00.000Z");
    expect(cap.limit).toBeNull();
    expect(calls).toBe(1);
    expect(waits).toEqual([]);
    expect(exceeded).toEqual([cap]);
    expect(await c.pending()).toEqual([]);
  });

  it("surfaces a hard limit's allowance as QuotaExceeded with refusedBy and the period (no billing period: none)", async () => {
    const refusals = [
      { reset_at: "2026-12-01T00:00:00Z", refused_by: "allowance", billing_period: { ...period, limit: "hard", spending_cap: undefined } },
      { reset_at: "2026-11-10T18:30:00Z" },
    ];
    server.use(
      http.post(`${API}/api/track-usage`, () =>
        problem(429, "quota_exceeded", { allowed: false, used: 10, limit: 10, ...refusals.shift() }),
      ),
    );
    const { c } = client({ queue: false });
    const allowance = (await c.trackUsage({ action: "search" }).catch((e: unknown) => e)) as QuotaExceeded;
    expect(allowance).toBeInstanceOf(QuotaExceeded);
    expect(allowance).not.toBeInstanceOf(SpendingCapReached);
    expect(allowance.refusedBy).toBe("allowance");
    expect(allowance.billingPeriod?.limit).toBe("hard");
    expect(allowance.resetAt.toISOString()).toBe("2026-12-01T00:00:00.000Z");
    const daily = (await c.trackUsage({ action: "search" }).catch((e: unknown) => e)) as QuotaExceeded;
    expect(daily.refusedBy).toBeUndefined();
    expect(daily.billingPeriod).toBeUndefined();
  });
});

describe("the offline queue", () => {
  it("keeps what could not be sent and flushes it in order with the same keys: nothing lost or counted twice", async () => {
    let offline = false;
    const api = countingApi(() => offline);
    const { c } = client({ retry: { maxRetries: 1 } });
    const flushed: unknown[] = [];
    c.on("queueFlushed", (r) => flushed.push(r));
    const keys: string[] = [];
    for (let i = 0; i < 10; i++) {
      offline = i >= 3 && i < 7; // the network fails mid-way
      const result = await c.trackUsage({ action: "search", idempotencyKey: `evt-${i}` });
      keys.push(result.key);
      expect(result.queued).toBe(i >= 3 && i < 7);
    }
    // Back online at event 7: the queued 3..6 went first (one batch), then 7, 8, 9.
    expect(api.order).toEqual(keys);
    expect(api.counted.size).toBe(10);
    expect(await c.pending()).toEqual([]);
    expect(flushed).toHaveLength(1);
  });

  it("survives a restart in a file, and a lost flush answer counts nothing twice", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sdk-queue-"));
    try {
      const path = join(dir, "queue.json");
      let offline = true;
      const api = countingApi(() => offline);
      const first = client({ queue: new FileStorage(path), retry: { maxRetries: 0 } }).c;
      await first.trackUsage({ action: "export", quantity: 2 });
      await first.trackUsage({ action: "export" });
      expect((await first.pending()).map((e) => e.body.quantity ?? 1)).toEqual([2, 1]);
      // A new process: the queue is in the file.
      offline = false;
      const second = client({ queue: new FileStorage(path) }).c;
      const pending = await second.pending();
      expect(pending).toHaveLength(2);
      const report = await second.flush();
      expect(report).toMatchObject({ sent: 2, counted: 2, remaining: 0 });
      // The same events sent again (as if the answer had been lost): the API answers their keys, no new count.
      await new FileStorage(path).save(pending);
      await client({ queue: new FileStorage(path) }).c.flush();
      expect([...api.counted.values()].reduce((a, b) => a + b, 0)).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps events the API could not take (5xx in the batch) and drops the rejected ones, reporting them", async () => {
    let offline = true;
    server.use(
      http.post(`${API}/api/track-usage`, () => HttpResponse.error()),
      http.post(`${API}/api/track-usage/batch`, async ({ request }) => {
        if (offline) return HttpResponse.error();
        const { events } = (await request.json()) as { events: { action: string }[] };
        const results = events.map((e) =>
          e.action === "bad"
            ? { status: 400, problem: { type: "x", title: "x", status: 400, code: "validation_failed" } }
            : e.action === "late"
              ? { status: 503, problem: { type: "x", title: "x", status: 503, code: "service_unavailable" } }
              : { status: 200, answer: answer(1) },
        );
        return HttpResponse.json({ results, counted: 1, refused: 0, failed: 2 });
      }),
    );
    const { c } = client({ retry: { maxRetries: 0 } });
    const errors: unknown[] = [];
    for (const action of ["ok", "bad", "late"]) await c.trackUsage({ action });
    c.on("error", (e) => errors.push(e));
    offline = false;
    const report = await c.flush();
    expect(report).toMatchObject({ sent: 3, counted: 1, rejected: 1, remaining: 1 });
    expect((await c.pending()).map((e) => e.body.action)).toEqual(["late"]);
    expect(errors).toHaveLength(1);
  });
});
