// Typed errors: every problem the API answers has a stable `code` (`ProblemCode`, from infra/openapi.yaml).
import type { components } from "./generated/openapi.js";

export type Problem = components["schemas"]["Problem"];
/** Every code the API documents; an unknown (newer) code is still a string. */
export type ProblemCode = components["schemas"]["ProblemCode"];

/** A problem+json answer of the API. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ProblemCode | (string & {});
  readonly problem: Problem;
  /** Seconds, from `Retry-After`, when the API sent one. */
  readonly retryAfter?: number;

  constructor(status: number, problem: Problem, retryAfter?: number) {
    super(`${status} ${problem.code}: ${problem.detail ?? problem.title}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** Whether this is the problem `code` (narrowing for exhaustive handling). */
  is(code: ProblemCode): boolean {
    return this.code === code;
  }
}

export type RefusedBy = components["schemas"]["RefusedBy"];
export type PeriodUsage = components["schemas"]["PeriodUsage"];

/**
 * 429 `quota_exceeded` (a tier's daily or monthly limit, or a usage-priced billing period's allowance under a
 * hard limit): the event was not counted; the refusal ends at `resetAt` (the next local midnight, or the end of
 * the billing period when `refusedBy` is `allowance` or `spending_cap`). Never retried. A spending cap's
 * refusal is the subclass `SpendingCapReached`, so `instanceof QuotaExceeded` catches both.
 */
export class QuotaExceeded extends ApiError {
  readonly used: number;
  readonly limit: number | null;
  readonly resetAt: Date;
  /** Which limit refused the event (`daily_limit`, `monthly_limit`, `allowance`, `spending_cap`), when the API says. */
  readonly refusedBy?: RefusedBy;
  /** A usage-priced subscription's billing period as counted so far (the problem's `billing_period`). */
  readonly billingPeriod?: PeriodUsage;

  constructor(status: number, problem: Problem & Record<string, unknown>, retryAfter?: number) {
    super(status, problem, retryAfter);
    this.name = "QuotaExceeded";
    this.used = Number(problem["used"] ?? 0);
    this.limit = problem["limit"] == null ? null : Number(problem["limit"]);
    const reset = typeof problem["reset_at"] === "string" ? Date.parse(problem["reset_at"]) : NaN;
    this.resetAt = new Date(Number.isNaN(reset) ? Date.now() + (retryAfter ?? 0) * 1000 : reset);
    if (typeof problem["refused_by"] === "string") this.refusedBy = problem["refused_by"] as RefusedBy;
    const period = problem["billing_period"];
    if (period && typeof period === "object") this.billingPeriod = period as PeriodUsage;
  }
}

/**
 * 429 `spending_cap_reached`: the subscriber's spending cap on overage is reached for this billing period (a
 * `QuotaExceeded`, so existing handlers catch it); usage is refused until `resetAt`, the period's end, unless
 * the cap is raised (`PUT /api/subscriptions/{id}/spending-cap`).
 */
export class SpendingCapReached extends QuotaExceeded {
  constructor(status: number, problem: Problem & Record<string, unknown>, retryAfter?: number) {
    super(status, problem, retryAfter);
    this.name = "SpendingCapReached";
  }
}

/** The session is over (its refresh token was reused or is no longer valid): sign in again. */
export class SessionEnded extends ApiError {
  constructor(status: number, problem: Problem, retryAfter?: number) {
    super(status, problem, retryAfter);
    this.name = "SessionEnded";
  }
}

/** No answer from the API (connection refused or reset, DNS, timeout). */
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NetworkError";
  }
}

/** A token that does not verify offline; `code` is what the API would answer for it. */
export class TokenInvalid extends Error {
  readonly code: "malformed" | "invalid_signature" | "expired" | "wrong_audience" | "wrong_token_kind";

  constructor(code: TokenInvalid["code"], message: string) {
    super(message);
    this.name = "TokenInvalid";
    this.code = code;
  }
}

/** The error for an API answer, by its code. */
export function errorFor(status: number, problem: Problem, retryAfter?: number): ApiError {
  if (problem.code === "quota_exceeded") return new QuotaExceeded(status, problem, retryAfter);
  if (problem.code === "spending_cap_reached") return new SpendingCapReached(status, problem, retryAfter);
  if (problem.code === "refresh_token_reused" || problem.code === "invalid_refresh_token") {
    return new SessionEnded(status, problem, retryAfter);
  }
  return new ApiError(status, problem, retryAfter);
}
