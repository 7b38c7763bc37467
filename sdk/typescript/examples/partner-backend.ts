// A partner's backend, the five-minute integration: check the user's solution token offline (no call per
// request once the API's keys are cached), then meter each use with the partner's API key. Usage that cannot be
// sent (the network or the API failing) waits in a queue and goes out, in order and with its first idempotency
// keys, when the API answers again: nothing is lost or counted twice.
import { MarketplaceClient, QuotaExceeded } from "../src/index.js";

export interface Options {
  baseUrl: string;
  /** The partner's API key (`POST /api/partners/{id}/api-keys`). */
  apiKey: string;
  solutionId: string;
  /** The user's solution token, as the app sends it to the backend. */
  userToken: string;
  /** How many uses to meter. */
  uses: number;
  /** The network (tests inject failures here). */
  fetch?: typeof fetch;
}

export async function partnerBackend(options: Options) {
  const client = new MarketplaceClient({
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    fetch: options.fetch,
    retry: { maxRetries: 2, baseDelayMs: 50 },
  });
  // 1. Who is calling: verified offline against the API's published keys.
  const user = await client.validateToken(options.userToken, { solutionId: options.solutionId });
  // 2. Meter each use for that user; a refusal means the user's quota is used up.
  const outcomes = { counted: 0, queued: 0, refused: 0 };
  for (let i = 0; i < options.uses; i++) {
    try {
      const result = await client.trackUsage({
        action: "report.generate",
        customerId: user.sub,
        solutionId: options.solutionId,
        metadata: { request: i },
      });
      outcomes[result.queued ? "queued" : "counted"]++;
    } catch (error) {
      if (!(error instanceof QuotaExceeded)) throw error;
      outcomes.refused++;
    }
  }
  // 3. Before shutting down: send what waited.
  const flushed = await client.flush();
  return { user: user.sub, tier: user.tier, outcomes, flushed, pending: (await client.pending()).length };
}
