// Test helpers: tokens signed like the API signs them (Ed25519, kid derived from the public key).
import { getPublicKeyAsync, signAsync, utils } from "@noble/ed25519";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll } from "vitest";
import { toBase64Url } from "../src/jwks.js";

export interface TestKey {
  kid: string;
  x: string;
  secret: Uint8Array;
}

export async function testKey(): Promise<TestKey> {
  const secret = utils.randomSecretKey();
  const publicKey = await getPublicKeyAsync(secret);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", publicKey));
  return { kid: toBase64Url(digest.slice(0, 12)), x: toBase64Url(publicKey), secret };
}

export function jwks(...keys: TestKey[]) {
  return { keys: keys.map((k) => ({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", kid: k.kid, x: k.x })) };
}

export async function sign(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const enc = (v: unknown) => toBase64Url(new TextEncoder().encode(JSON.stringify(v)));
  const input = `${enc({ alg: "EdDSA", typ: "JWT", kid: key.kid, ...header })}.${enc(claims)}`;
  const signature = await signAsync(new TextEncoder().encode(input), key.secret);
  return `${input}.${toBase64Url(signature)}`;
}

export function solutionClaims(solutionId: string, overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: "https://api.test",
    sub: "usr_01jc4x5y6z7a8b9c0d1e2f3g4h",
    aud: solutionId,
    exp: now + 900,
    iat: now,
    jti: "tok_1",
    typ: "solution",
    fid: "fam_1",
    email: "user@example.test",
    solution_id: solutionId,
    tier: "free",
    scopes: ["usage:track", "usage:read"],
    ...overrides,
  };
}

/** An msw server for the file's tests: unhandled requests fail the test; handlers reset after each. */
export function mockServer() {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());
  return server;
}
