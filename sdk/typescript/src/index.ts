export {
  MarketplaceClient,
  type ClientOptions,
  type ClientEvents,
  type FlushReport,
  type QuotaView,
  type TrackAnswer,
  type TrackEvent,
  type TrackResult,
  type Tokens,
  type UserContext,
} from "./client.js";
export {
  type HttpMethod,
  type Operation,
  type PathsFor,
  type RequestBody,
  type RequestInit,
  type SuccessBody,
} from "./api.js";
export {
  ApiError,
  NetworkError,
  QuotaExceeded,
  SessionEnded,
  SpendingCapReached,
  TokenInvalid,
  type PeriodUsage,
  type Problem,
  type ProblemCode,
  type RefusedBy,
} from "./errors.js";
export { type Claims, JwksCache, verifyToken } from "./jwks.js";
export { LocalStorageStorage, MemoryStorage, type QueueStorage, type QueuedEvent } from "./queue.js";
export { DEFAULT_RETRY, type RetryPolicy } from "./http.js";
export type { components, paths } from "./generated/openapi.js";
