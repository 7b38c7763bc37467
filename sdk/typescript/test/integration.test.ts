// Against the real local stack (`make dev`; `make test` sets SDK_API_URL and DEV_STATE_DIR): the partner backend
// example meters through a network that fails mid-way, and the API's count is exactly the number of uses.
import { describe, expect, it } from "vitest";
import { partnerBackend } from "../examples/partner-backend.js";
import { MarketplaceClient, SessionEnded } from "../src/index.js";
import { api, base, partnerAndUser, stateDir } from "./stack.js";

describe.skipIf(!base || !stateDir)("against the local stack", () => {
  it("the partner backend example counts every use exactly once through a failing network", async () => {
    const { solutionId, apiKey, user, issued } = await partnerAndUser();

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
      apiKey,
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

    // The app's side: the solution token renewed with its refresh token, the context read with the new one;
    // a second client holding the spent refresh token ends the session (the API revokes the family).
    const app = new MarketplaceClient({ baseUrl: base ?? "", token: issued.token as string, refreshToken: issued.refresh_token as string });
    await app.refreshToken();
    const context = await app.getUserContext();
    expect(context.user.user_id).toBe(user.user_id);
    const stale = new MarketplaceClient({ baseUrl: base ?? "", token: issued.token as string, refreshToken: issued.refresh_token as string });
    await expect(stale.refreshToken()).rejects.toBeInstanceOf(SessionEnded);
  });
});
