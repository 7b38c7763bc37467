import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import { MarketplaceClient, TokenInvalid } from "../src/index.js";
import { jwks, sign, solutionClaims, testKey, mockServer } from "./helpers.js";

const API = "https://api.test";
const SOLUTION = "sol_01jc4x5y6z7a8b9c0d1e2f3g4h";
const server = mockServer();

async function invalid(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenInvalid);
  return (error as TokenInvalid).code;
}

describe("validateToken (offline)", () => {
  it("verifies with the cached keys and calls the API once for them", async () => {
    const key = await testKey();
    let fetched = 0;
    server.use(
      http.get(`${API}/.well-known/jwks.json`, () => {
        fetched++;
        return HttpResponse.json(jwks(key), { headers: { "cache-control": "public, max-age=300" } });
      }),
    );
    const client = new MarketplaceClient({ baseUrl: API, issuer: "https://api.test" });
    const token = await sign(key, solutionClaims(SOLUTION));
    for (let i = 0; i < 5; i++) {
      const claims = await client.validateToken(token, { solutionId: SOLUTION });
      expect(claims.sub).toBe("usr_01jc4x5y6z7a8b9c0d1e2f3g4h");
    }
    expect(fetched).toBe(1);
  });

  it("refuses what the API refuses, with the API's code", async () => {
    const key = await testKey();
    const other = await testKey();
    server.use(http.get(`${API}/.well-known/jwks.json`, () => HttpResponse.json(jwks(key))));
    const client = new MarketplaceClient({ baseUrl: API, issuer: "https://api.test" });
    const now = Math.floor(Date.now() / 1000);
    expect(await invalid(client.validateToken(await sign(key, solutionClaims(SOLUTION, { exp: now - 60 }))))).toBe("expired");
    expect(await invalid(client.validateToken(await sign(key, solutionClaims(SOLUTION)), { solutionId: "sol_other" }))).toBe(
      "wrong_audience",
    );
    expect(await invalid(client.validateToken(await sign(key, solutionClaims(SOLUTION, { typ: "access", aud: "monetization-api" }))))).toBe(
      "wrong_token_kind",
    );
    expect(await invalid(client.validateToken(await sign(key, solutionClaims(SOLUTION, { iss: "https://evil.test" }))))).toBe(
      "invalid_signature",
    );
    // Signed by a key the API does not publish, under a published kid: the signature does not verify.
    const forged = await sign({ ...other, kid: key.kid }, solutionClaims(SOLUTION));
    expect(await invalid(client.validateToken(forged))).toBe("invalid_signature");
    // A changed payload under a valid signature.
    const [h, , s] = (await sign(key, solutionClaims(SOLUTION))).split(".");
    const tampered = `${h}.${Buffer.from(JSON.stringify(solutionClaims(SOLUTION, { tier: "enterprise" }))).toString("base64url")}.${s}`;
    expect(await invalid(client.validateToken(tampered))).toBe("invalid_signature");
    expect(await invalid(client.validateToken(await sign(key, solutionClaims(SOLUTION), { alg: "none" })))).toBe("invalid_signature");
    expect(await invalid(client.validateToken("not.a.jwt"))).toBe("malformed");
  });

  it("fetches the keys again for an unknown kid (a rotation), not on every unknown token", async () => {
    const old = await testKey();
    const next = await testKey();
    let published = [old];
    let fetched = 0;
    server.use(
      http.get(`${API}/.well-known/jwks.json`, () => {
        fetched++;
        return HttpResponse.json(jwks(...published), { headers: { "cache-control": "max-age=300" } });
      }),
    );
    let now = Date.now();
    const client = new MarketplaceClient({ baseUrl: API, now: () => now });
    await client.validateToken(await sign(old, solutionClaims(SOLUTION)));
    published = [old, next];
    // Within 30 s of the last fetch an unknown kid does not refetch (a flood of forged kids costs nothing).
    expect(await invalid(client.validateToken(await sign(next, solutionClaims(SOLUTION))))).toBe("invalid_signature");
    expect(fetched).toBe(1);
    now += 31_000;
    await client.validateToken(await sign(next, solutionClaims(SOLUTION)));
    expect(fetched).toBe(2);
    // Past max-age the keys are fetched again even for a known kid.
    now += 301_000;
    await client.validateToken(await sign(old, solutionClaims(SOLUTION)));
    expect(fetched).toBe(3);
  });

  it("asks the API too when online (a revoked token)", async () => {
    const key = await testKey();
    const seen: string[] = [];
    server.use(
      http.get(`${API}/.well-known/jwks.json`, () => HttpResponse.json(jwks(key))),
      http.post(`${API}/api/validate-token`, ({ request }) => {
        seen.push(request.headers.get("x-api-key") ?? "");
        return HttpResponse.json(
          { type: "x", title: "Unauthorized", status: 401, code: "revoked", detail: "revoked", valid: false },
          { status: 401, headers: { "content-type": "application/problem+json" } },
        );
      }),
    );
    const client = new MarketplaceClient({ baseUrl: API, apiKey: "mk_test" });
    const token = await sign(key, solutionClaims(SOLUTION));
    await expect(client.validateToken(token)).resolves.toBeTruthy();
    await expect(client.validateToken(token, { online: true })).rejects.toMatchObject({ code: "revoked", status: 401 });
    expect(seen).toEqual(["mk_test"]);
  });
});

describe("validateToken (cached verifications)", () => {
  it("verifies a token once, and again when its key is withdrawn from the JWKS past the keys' max age", async () => {
    const key = await testKey();
    let published = [key];
    server.use(
      http.get(`${API}/.well-known/jwks.json`, () => HttpResponse.json(jwks(...published), { headers: { "cache-control": "max-age=60" } })),
    );
    let now = Date.now();
    const client = new MarketplaceClient({ baseUrl: API, now: () => now });
    const token = await sign(key, solutionClaims(SOLUTION));
    await client.validateToken(token);
    await client.validateToken(token, { solutionId: SOLUTION });
    expect(await invalid(client.validateToken(token, { solutionId: "sol_other" }))).toBe("wrong_audience");
    published = [];
    now += 61_000;
    expect(await invalid(client.validateToken(token))).toBe("invalid_signature");
  });
});
