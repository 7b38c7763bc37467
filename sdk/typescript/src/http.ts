// The transport: JSON calls with bounded retries (network errors, 5xx, 409 `*_in_progress`), exponential
// backoff with full jitter, `Retry-After` honoured; a 4xx is never retried. A retried call is the same request
// (the same idempotency key), so a retry never counts twice.
import { ApiError, NetworkError, errorFor, type Problem } from "./errors.js";

export interface RetryPolicy {
  /** Retries after the first attempt (0: none). */
  maxRetries: number;
  /** The first backoff's ceiling; each retry doubles it. */
  baseDelayMs: number;
  /** The longest wait before a retry; a `Retry-After` beyond it is not waited for (the error is thrown). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 3, baseDelayMs: 200, maxDelayMs: 5_000 };

export interface Transport {
  baseUrl: string;
  fetch: typeof fetch;
  retry: RetryPolicy;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export function retryable(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  if (!(error instanceof ApiError)) return false;
  return error.status >= 500 || (error.status === 409 && /_in_progress$|^concurrent_update$/.test(error.code));
}

/** Wait before retry `attempt` (1-based): `Retry-After` when given, else full jitter on an exponential ceiling. */
export function backoff(policy: RetryPolicy, attempt: number, random: () => number, retryAfter?: number): number {
  if (retryAfter !== undefined) return retryAfter * 1000;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** One call of the API, retried as the policy allows. Throws `ApiError` (a problem answer) or `NetworkError`. */
export async function call<T>(
  t: Transport,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string | undefined> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
  for (const [name, value] of Object.entries(options.headers ?? {})) if (value !== undefined) headers[name] = value;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const init: RequestInit = {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  };
  const url = t.baseUrl.replace(/\/+$/, "") + path;
  for (let attempt = 0; ; attempt++) {
    try {
      return await once<T>(t, url, init);
    } catch (error) {
      if (!retryable(error) || attempt >= t.retry.maxRetries) throw error;
      const wait = backoff(t.retry, attempt + 1, t.random, error instanceof ApiError ? error.retryAfter : undefined);
      if (wait > t.retry.maxDelayMs) throw error;
      await t.sleep(wait);
    }
  }
}

async function once<T>(t: Transport, url: string, init: RequestInit): Promise<Answer<T>> {
  let response: Response;
  try {
    response = await t.fetch(url, init);
  } catch (cause) {
    throw new NetworkError(`no answer from ${url}: ${String(cause)}`, { cause });
  }
  const text = await response.text().catch((cause: unknown) => {
    throw new NetworkError(`the answer from ${url} broke off`, { cause });
  });
  const body = text ? safeJson(text) : undefined;
  if (response.ok) return { status: response.status, body: body as T, headers: response.headers };
  const retryAfter = Number.parseInt(response.headers.get("retry-after") ?? "", 10);
  const problem =
    body && typeof body === "object" && "code" in body
      ? (body as Problem)
      : ({ type: "about:blank", title: response.statusText, status: response.status, code: "unknown" } as unknown as Problem);
  throw errorFor(response.status, problem, Number.isNaN(retryAfter) ? undefined : retryAfter);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
