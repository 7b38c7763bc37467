// `MarketplaceClient`: what a partner's backend (with its API key) or an app (with a user's solution token)
// needs from the API — offline token validation, usage tracking that is idempotent, retried and queued while
// offline, and the local view of the quota the API's answers carry.
import { type HttpMethod, type Operation, type PathsFor, type RequestInit, type SuccessBody, fillPath, queryString } from "./api.js";
import { Emitter } from "./emitter.js";
import { ApiError, NetworkError, QuotaExceeded, SessionEnded, TokenInvalid } from "./errors.js";
import type { components } from "./generated/openapi.js";
import { type Answer, DEFAULT_RETRY, type RetryPolicy, type Transport, call, retryable } from "./http.js";
import { type Claims, JwksCache, type JwksAnswer, maxAgeMs, verifyToken } from "./jwks.js";
import { MemoryStorage, type QueueStorage, type QueuedEvent } from "./queue.js";

export type TrackAnswer = components["schemas"]["TrackAnswer"];
export type TrackBatchAnswer = components["schemas"]["TrackBatchAnswer"];
export type Validation = components["schemas"]["Validation"];
export type UserContext = components["schemas"]["UserContext"];

/** A bearer token (a session's access token or a solution token) and the refresh token that renews it. */
export interface Tokens {
  token: string;
  refreshToken?: string;
}

/** One use of a solution. */
export interface TrackEvent {
  action: string;
  quantity?: number;
  metadata?: Record<string, unknown>;
  /** Set to your own event id to make retries across processes safe; generated once per call otherwise. */
  idempotencyKey?: string;
  /** Required with an API key and no token, and for anonymous visitors. */
  solutionId?: string;
  /** With an API key and no token: the user (`usr_…`) the event is for. */
  customerId?: string;
  /** An anonymous visitor's id (`X-Anonymous-Id`), instead of a user. */
  anonymousId?: string;
  /**
   * When the usage happened (an RFC 3339 string, or a `Date`, sent as UTC): a late event counts at that time (its
   * day, its billing period) while that period ended at most an hour ago. Default: when the API receives it.
   */
  timestamp?: string | Date;
}

export type TrackResult =
  | { queued: false; key: string; answer: TrackAnswer }
  /** Not sent yet (offline, or the API failing): kept in the queue, sent by `flush` with the same key. */
  | { queued: true; key: string };

export interface FlushReport {
  sent: number;
  counted: number;
  refused: number;
  /** Events the API refused for good (4xx other than 429): dropped, each reported by an `error` event. */
  rejected: number;
  /** Still queued (the API or the network failed again). */
  remaining: number;
}

/** The local view of a quota, from the `RateLimit-*` headers and answers of the API. */
export interface QuotaView {
  limit: number | null;
  remaining: number | null;
  resetAt: Date;
}

export interface ClientEvents extends Record<string, unknown> {
  /** The token was renewed (store the new pair: the old refresh token is spent). */
  tokenRefreshed: Tokens;
  /** The refresh token was reused or is no longer valid: the user must sign in again. */
  sessionEnded: SessionEnded;
  quotaWarning: QuotaView;
  quotaExceeded: QuotaExceeded;
  queueFlushed: FlushReport;
  error: { error: unknown; event?: QueuedEvent };
}

export interface ClientOptions {
  /** The API's base URL (the SAM stack's `ApiUrl`, or `http://127.0.0.1:3000` under `make dev`). */
  baseUrl: string;
  /** A partner backend's API key (`X-Api-Key`). */
  apiKey?: string;
  /**
   * A user's token (session access token or solution token), or a function returning the current one (then
   * renewing it is the caller's business).
   */
  token?: string | (() => string | undefined);
  /** The refresh token of `token`: the client renews `token` before it expires and once on a 401 `expired`. */
  refreshToken?: string;
  /** The `iss` every token must carry (the deployment's `JwtIssuer`); unchecked when not given. */
  issuer?: string;
  /** Where unsent usage waits: memory by default; `FileStorage` or `LocalStorageStorage` to survive restarts; `false` for no queue. */
  queue?: QueueStorage | false;
  retry?: Partial<RetryPolicy>;
  /** `quotaWarning` when at most this share of the quota is left (default 0.2). */
  quotaWarningAt?: number;
  fetch?: typeof fetch;
  /** Tests: the clock, the waits and the jitter. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const BATCH = 100;

export class MarketplaceClient extends Emitter<ClientEvents> {
  readonly #options: ClientOptions;
  readonly #transport: Transport;
  readonly #jwks: JwksCache;
  readonly #queue: QueueStorage | undefined;
  readonly #quotas = new Map<string, QuotaView>();
  #flushing?: Promise<FlushReport>;
  #tokens: Tokens | undefined;
  #refreshing?: Promise<string>;
  #context?: { token: string; at: number; value: UserContext };
  #verified = new Map<string, { claims: Claims; generation: number }>();
  /** Serialises queue updates (track and flush both write it). */
  #queueLock: Promise<unknown> = Promise.resolve();

  constructor(options: ClientOptions) {
    super();
    this.#options = options;
    const now = options.now ?? Date.now;
    this.#transport = {
      baseUrl: options.baseUrl,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      retry: { ...DEFAULT_RETRY, ...options.retry },
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: options.random ?? Math.random,
    };
    this.#jwks = new JwksCache(() => this.#loadJwks(), now);
    this.#queue = options.queue === false ? undefined : (options.queue ?? new MemoryStorage());
    this.#tokens =
      typeof options.token === "string" ? { token: options.token, refreshToken: options.refreshToken } : undefined;
  }

  /** The current token pair (after renewals), when the client manages it. */
  get tokens(): Tokens | undefined {
    return this.#tokens ? { ...this.#tokens } : undefined;
  }

  /** Use this token pair from now on (e.g. a session's, after signing in); `undefined` signs out. */
  setTokens(tokens: Tokens | undefined): void {
    this.#tokens = tokens ? { ...tokens } : undefined;
    this.#context = undefined;
  }

  /**
   * Call any documented route, typed by infra/openapi.yaml: `request("get", "/api/orgs/{org_id}", { path: { org_id } })`.
   * Sends the current token (renewed as `getUserContext` renews it) and the API key. GET and DELETE, and calls
   * carrying an `Idempotency-Key` header, are retried as the policy says; other calls are sent once (a retried
   * charge must be one the API can recognise). Throws `ApiError` (typed by `code`) or `NetworkError`.
   */
  async request<M extends HttpMethod, P extends PathsFor<M>>(
    method: M,
    path: P,
    ...[init]: {} extends RequestInit<Operation<P, M>> ? [init?: RequestInit<Operation<P, M>>] : [init: RequestInit<Operation<P, M>>]
  ): Promise<SuccessBody<Operation<P, M>>> {
    const options = (init ?? {}) as { path?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown; headers?: Record<string, unknown> };
    const url = fillPath(path, options.path) + queryString(options.query);
    const extra: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) if (value !== undefined) extra[name] = String(value);
    const idempotent =
      method === "get" || method === "delete" || Object.keys(extra).some((name) => name.toLowerCase() === "idempotency-key");
    const transport = idempotent ? this.#transport : { ...this.#transport, retry: { ...this.#transport.retry, maxRetries: 0 } };
    const answer = await this.#withToken((headers) =>
      call<SuccessBody<Operation<P, M>>>(transport, method.toUpperCase(), url, { body: options.body, headers: { ...headers, ...extra } }),
    );
    return answer.body;
  }

  /**
   * The caller's context (`GET /api/user-context`: the user, their solutions and tiers, and with a solution
   * token the quota of the day), cached for `maxAgeMs` (default 30 s) per token.
   */
  async getUserContext(options: { maxAgeMs?: number } = {}): Promise<UserContext> {
    const now = (this.#options.now ?? Date.now)();
    const cached = this.#context;
    const token = await this.#bearer();
    if (cached && cached.token === token && now - cached.at < (options.maxAgeMs ?? 30_000)) return cached.value;
    const answer = await this.#withToken((headers) =>
      call<UserContext>(this.#transport, "GET", "/api/user-context", { headers }),
    );
    this.#context = { token: (await this.#bearer()) ?? "", at: now, value: answer.body };
    return answer.body;
  }

  /**
   * Renew the token with its refresh token now (concurrent callers share one renewal: a refresh token is
   * single use). Throws `SessionEnded` when the refresh token was reused or is no longer valid.
   */
  refreshToken(): Promise<string> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<string> {
    const refreshToken = this.#tokens?.refreshToken;
    if (!refreshToken) throw new Error("no refresh token to renew the token with");
    try {
      const answer = await call<{ access_token?: string; token?: string; refresh_token: string }>(
        this.#transport,
        "POST",
        "/api/refresh-token",
        { body: { refresh_token: refreshToken } },
      );
      const token = answer.body.access_token ?? answer.body.token ?? "";
      this.#tokens = { token, refreshToken: answer.body.refresh_token };
      this.emit("tokenRefreshed", { ...this.#tokens });
      return token;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        const ended = error instanceof SessionEnded ? error : new SessionEnded(error.status, error.problem, error.retryAfter);
        this.#tokens = undefined;
        this.emit("sessionEnded", ended);
        throw ended;
      }
      throw error;
    }
  }

  /** The bearer token to send, renewed first when it expires within 30 s. */
  async #bearer(): Promise<string | undefined> {
    if (typeof this.#options.token === "function") return this.#options.token();
    const tokens = this.#tokens;
    if (!tokens) return undefined;
    const exp = expiryOf(tokens.token);
    const now = (this.#options.now ?? Date.now)() / 1000;
    if (tokens.refreshToken && exp !== undefined && exp - now < 30) return this.refreshToken();
    return tokens.token;
  }

  /** A call with the bearer token, renewed and sent once more when the API answers 401 `expired`. */
  async #withToken<T>(send: (headers: Record<string, string | undefined>) => Promise<T>, anonymousId?: string): Promise<T> {
    try {
      return await send(await this.#headers(anonymousId));
    } catch (error) {
      const renewable = error instanceof ApiError && error.status === 401 && error.code === "expired";
      if (!renewable || !this.#tokens?.refreshToken) throw error;
      await this.refreshToken();
      return send(await this.#headers(anonymousId));
    }
  }

  /**
   * Verify a solution token offline (no call once the keys are cached): its signature, issuer, expiry, kind and
   * solution. With `online: true` the API is asked too (`POST /api/validate-token`), which also catches a revoked
   * token or a suspended solution.
   */
  async validateToken(token: string, options: { solutionId?: string; online?: boolean } = {}): Promise<Claims> {
    // A token verified before is not verified again (a backend sees one token many times) while it has not
    // expired and the keys it was verified with are still the current, fresh ones (a key withdrawn from the
    // JWKS stops its tokens within the keys' max age).
    const now = (this.#options.now ?? Date.now)();
    const known = this.#verified.get(token);
    let claims = known?.claims;
    if (!known || known.claims.exp * 1000 <= now || known.generation !== this.#jwks.generation || !this.#jwks.fresh()) {
      claims = await verifyToken(token, this.#jwks, { kinds: ["solution"], issuer: this.#options.issuer, now: this.#options.now });
      if (this.#verified.size >= 1_000) this.#verified.clear();
      this.#verified.set(token, { claims, generation: this.#jwks.generation });
    }
    if (!claims) throw new TokenInvalid("malformed", "not verified");
    if (options.solutionId !== undefined && claims.aud !== options.solutionId) {
      throw new TokenInvalid("wrong_audience", "a token for another solution");
    }
    if (options.online) {
      const answer = await call<Validation>(this.#transport, "POST", "/api/validate-token", {
        body: { token, ...(options.solutionId ? { solution_id: options.solutionId } : {}) },
        headers: { "x-api-key": this.#options.apiKey },
      });
      if (!answer.body.valid) throw new TokenInvalid("invalid_signature", "the API did not accept the token");
    }
    return claims;
  }

  /**
   * Count one use. The call carries an idempotency key (generated once, reused by every retry and by the queue),
   * so it is counted at most once. A refused event throws `QuotaExceeded` (`SpendingCapReached` at the subscriber's
   * spending cap), never retried nor queued; a bad one throws `ApiError`. When the API cannot be reached (or fails
   * after the retries) the event is queued and sent by `flush`, in order. `timestamp` dates a late event.
   */
  async trackUsage(event: TrackEvent): Promise<TrackResult> {
    const queued = this.#toQueued(event);
    const key = queued.body.idempotency_key;
    if (this.#queue && (await this.#queue.load()).length > 0) {
      // Older events wait in the queue: they go first, so the quota sees events in the order they happened.
      const report = await this.flush().catch(() => undefined);
      if (!report || report.remaining > 0) {
        await this.#enqueue([queued]);
        return { queued: true, key };
      }
    }
    try {
      const answer = await this.#withToken(
        (headers) => call<TrackAnswer>(this.#transport, "POST", "/api/track-usage", { body: queued.body, headers }),
        queued.anonymousId,
      );
      this.#observe(queued, answer);
      return { queued: false, key, answer: answer.body };
    } catch (error) {
      if (error instanceof QuotaExceeded) {
        this.#noteQuota(queued, { limit: error.limit, remaining: 0, resetAt: error.resetAt });
        this.emit("quotaExceeded", error);
      }
      if (this.#queue && retryable(error)) {
        await this.#enqueue([queued]);
        this.emit("error", { error, event: queued });
        return { queued: true, key };
      }
      throw error;
    }
  }

  /** Send the queued events, in order, in batches (`POST /api/track-usage/batch`) with their first keys. */
  flush(): Promise<FlushReport> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Events waiting to be sent. */
  async pending(): Promise<QueuedEvent[]> {
    return this.#queue ? this.#queue.load() : [];
  }

  /** The last known quota of a solution (for a customer or visitor when given), from the API's answers. */
  quota(solutionId?: string, customer?: string): QuotaView | undefined {
    return this.#quotas.get(`${solutionId ?? ""}|${customer ?? ""}`);
  }

  async #flush(): Promise<FlushReport> {
    const report: FlushReport = { sent: 0, counted: 0, refused: 0, rejected: 0, remaining: 0 };
    if (!this.#queue) return report;
    let events = await this.#queue.load();
    try {
      while (events.length > 0) {
        // One batch: the first events that share a caller (the anonymous id is a header of the batch).
        const visitor = events[0]?.anonymousId;
        let size = 0;
        while (size < events.length && size < BATCH && events[size]?.anonymousId === visitor) size++;
        const batch = events.slice(0, size);
        const answer = await this.#withToken(
          (headers) =>
            call<TrackBatchAnswer>(this.#transport, "POST", "/api/track-usage/batch", {
              body: { events: batch.map((e) => e.body) },
              headers,
            }),
          visitor,
        );
        report.sent += batch.length;
        const keep: QueuedEvent[] = [];
        answer.body.results.forEach((result, i) => {
          const queued = batch[i];
          if (!queued) return;
          if (result.status === 200 && result.answer) {
            report.counted++;
            this.#noteAnswer(queued, result.answer);
          } else if (result.status === 429) {
            report.refused++;
            if (result.answer) this.#noteAnswer(queued, result.answer);
          } else if (result.status >= 500 || (result.status === 409 && /_in_progress$/.test(String(result.problem?.code)))) {
            keep.push(queued);
          } else {
            report.rejected++;
            this.emit("error", { error: result.problem, event: queued });
          }
        });
        events = [...keep, ...events.slice(size)];
        await this.#replaceQueue(batch, keep);
        if (keep.length > 0) break; // the API is failing: try again later, in the same order
      }
    } catch (error) {
      if (!retryable(error)) throw error;
      this.emit("error", { error });
    }
    report.remaining = (await this.#queue.load()).length;
    if (report.sent > 0) this.emit("queueFlushed", report);
    return report;
  }

  #toQueued(event: TrackEvent): QueuedEvent {
    const body: QueuedEvent["body"] = {
      action: event.action,
      idempotency_key: event.idempotencyKey ?? globalThis.crypto.randomUUID(),
    };
    if (event.quantity !== undefined) body.quantity = event.quantity;
    if (event.metadata !== undefined) body.metadata = event.metadata;
    if (event.solutionId !== undefined) body.solution_id = event.solutionId;
    if (event.customerId !== undefined) body.customer_id = event.customerId;
    if (event.timestamp !== undefined) {
      body.timestamp = event.timestamp instanceof Date ? event.timestamp.toISOString() : event.timestamp;
    }
    const now = (this.#options.now ?? Date.now)();
    return event.anonymousId === undefined ? { body, queuedAt: now } : { body, anonymousId: event.anonymousId, queuedAt: now };
  }

  async #headers(anonymousId?: string): Promise<Record<string, string | undefined>> {
    const token = await this.#bearer();
    return {
      authorization: token ? `Bearer ${token}` : undefined,
      "x-api-key": this.#options.apiKey,
      "x-anonymous-id": anonymousId,
    };
  }

  #observe(event: QueuedEvent, answer: Answer<TrackAnswer>): void {
    const limit = answer.headers.get("ratelimit-limit");
    const remaining = answer.headers.get("ratelimit-remaining");
    if (limit !== null && remaining !== null) {
      const reset = Number(answer.headers.get("ratelimit-reset") ?? 0);
      const now = (this.#options.now ?? Date.now)();
      this.#noteQuota(event, { limit: Number(limit), remaining: Number(remaining), resetAt: new Date(now + reset * 1000) });
    } else {
      this.#noteAnswer(event, answer.body);
    }
  }

  #noteAnswer(event: QueuedEvent, answer: { limit: number | null; remaining: number | null; reset_at: string }): void {
    this.#noteQuota(event, { limit: answer.limit, remaining: answer.remaining, resetAt: new Date(answer.reset_at) });
  }

  #noteQuota(event: QueuedEvent, view: QuotaView): void {
    const who = event.body.customer_id ?? event.anonymousId ?? "";
    this.#quotas.set(`${event.body.solution_id ?? ""}|${who}`, view);
    const share = this.#options.quotaWarningAt ?? 0.2;
    if (view.limit !== null && view.remaining !== null && view.remaining > 0 && view.remaining <= view.limit * share) {
      this.emit("quotaWarning", view);
    }
  }

  #enqueue(events: QueuedEvent[]): Promise<void> {
    return this.#withQueue(async (queue) => {
      await queue.save([...(await queue.load()), ...events]);
    });
  }

  /** Drop `sent` from the head of the queue, keeping `keep` (of them) in front. */
  #replaceQueue(sent: QueuedEvent[], keep: QueuedEvent[]): Promise<void> {
    return this.#withQueue(async (queue) => {
      const current = await queue.load();
      const sentKeys = new Set(sent.map((e) => e.body.idempotency_key));
      const rest = current.filter((e) => !sentKeys.has(e.body.idempotency_key));
      await queue.save([...keep, ...rest]);
    });
  }

  #withQueue(update: (queue: QueueStorage) => Promise<void>): Promise<void> {
    const queue = this.#queue;
    if (!queue) return Promise.resolve();
    const next = this.#queueLock.then(() => update(queue));
    this.#queueLock = next.catch(() => undefined);
    return next;
  }

  async #loadJwks(): Promise<JwksAnswer> {
    const answer = await call<{ keys: JwksAnswer["keys"] }>(this.#transport, "GET", "/.well-known/jwks.json");
    return { keys: answer.body.keys, maxAgeMs: maxAgeMs(answer.headers.get("cache-control"), 300_000) };
  }
}

/** The `exp` claim of a JWT (unverified: only to renew it in time). */
function expiryOf(token: string): number | undefined {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: unknown };
    return typeof json.exp === "number" ? json.exp : undefined;
  } catch {
    return undefined;
  }
}

export { ApiError, NetworkError };
