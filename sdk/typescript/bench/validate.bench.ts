// validateToken offline (the keys cached) next to the API's POST /api/validate-token, against the local stack:
// `make dev` state, run by `SDK_API_URL=… DEV_STATE_DIR=… npx vitest bench --run` (numbers for the notes).
import { bench, describe } from "vitest";
import { JwksCache, MarketplaceClient, verifyToken } from "../src/index.js";
import { base, partnerAndUser } from "../test/stack.js";

const setup = base ? await partnerAndUser() : undefined;
const client = new MarketplaceClient({ baseUrl: base ?? "http://127.0.0.1:9", apiKey: setup?.apiKey });
const token = (setup?.issued.token as string) ?? "";
if (setup) await client.validateToken(token);

const keys = new JwksCache(async () => {
  const answer = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: never[] };
  return { keys: answer.keys, maxAgeMs: 300_000 };
});

describe.skipIf(!setup)("validateToken", () => {
  bench("offline, the signature checked (a token not seen before)", async () => {
    await verifyToken(token, keys, { kinds: ["solution"], audience: setup?.solutionId });
  });
  bench("offline (cached keys)", async () => {
    await client.validateToken(token, { solutionId: setup?.solutionId });
  });
  bench("online (POST /api/validate-token as well)", async () => {
    await client.validateToken(token, { solutionId: setup?.solutionId, online: true });
  }, { iterations: 50 });
});
