// Offline verification of the API's tokens (EdDSA / Ed25519 JWTs) against its published keys
// (`GET /.well-known/jwks.json`): the keys are cached as long as the answer's `Cache-Control: max-age` says, and
// fetched again when a token names a key the cache lacks (a rotation), at most once per `minRefetchMs`.
import { verifyAsync } from "@noble/ed25519";
import { TokenInvalid } from "./errors.js";

export interface Claims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti: string;
  typ: "access" | "solution";
  fid: string;
  email: string;
  role?: string;
  solution_id?: string;
  tier?: string;
  scopes?: string[];
}

export interface Jwk {
  kty: string;
  crv: string;
  alg?: string;
  kid: string;
  x: string;
}

export interface JwksAnswer {
  keys: Jwk[];
  /** How long the keys may be kept (the answer's `max-age`). */
  maxAgeMs: number;
}

const LEEWAY_SECONDS = 5;

export class JwksCache {
  #keys = new Map<string, Uint8Array>();
  #fetchedAt = -Infinity;
  #maxAgeMs = 0;
  #pending?: Promise<void>;

  constructor(
    private readonly load: () => Promise<JwksAnswer>,
    private readonly now: () => number = Date.now,
    private readonly minRefetchMs = 30_000,
  ) {}

  /** Bumped at each fetch: what was verified under another generation of keys is verified again. */
  generation = 0;

  /** Whether the keys are within their max age. */
  fresh(): boolean {
    return this.now() - this.#fetchedAt <= this.#maxAgeMs;
  }

  /** The public key named `kid`, fetching the keys when they are stale or lack it. */
  async key(kid: string): Promise<Uint8Array | undefined> {
    const age = this.now() - this.#fetchedAt;
    const stale = age > this.#maxAgeMs;
    if (stale || (!this.#keys.has(kid) && age >= this.minRefetchMs)) await this.refresh();
    return this.#keys.get(kid);
  }

  /** Fetch the keys now (concurrent callers share one fetch). */
  refresh(): Promise<void> {
    this.#pending ??= this.load()
      .then((answer) => {
        const keys = new Map<string, Uint8Array>();
        for (const k of answer.keys) {
          if (k.kty === "OKP" && k.crv === "Ed25519" && (k.alg ?? "EdDSA") === "EdDSA") keys.set(k.kid, fromBase64Url(k.x));
        }
        this.#keys = keys;
        this.#fetchedAt = this.now();
        this.#maxAgeMs = answer.maxAgeMs;
        this.generation++;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }
}

export interface Expect {
  kinds: Claims["typ"][];
  /** The solution a solution token must be for (its `aud`). */
  audience?: string;
  /** The `iss` the tokens must carry (the deployment's `JwtIssuer`); unchecked when not given. */
  issuer?: string;
  now?: () => number;
}

/** The claims of `token` when it verifies as the API would verify it; `TokenInvalid` with the API's code otherwise. */
export async function verifyToken(token: string, keys: JwksCache, expect: Expect): Promise<Claims> {
  const parts = token.trim().split(".");
  if (parts.length !== 3 || token.length > 8192) throw new TokenInvalid("malformed", "not a JWT");
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h) as { alg?: string; kid?: string } | undefined;
  if (!header) throw new TokenInvalid("malformed", "unreadable header");
  if (header.alg !== "EdDSA" || !header.kid) throw new TokenInvalid("invalid_signature", "not an EdDSA token of the API");
  const key = await keys.key(header.kid);
  if (!key) throw new TokenInvalid("invalid_signature", `unknown key ${header.kid}`);
  const valid = await verifySignature(fromBase64Url(s), new TextEncoder().encode(`${h}.${p}`), key);
  if (!valid) throw new TokenInvalid("invalid_signature", "the signature does not verify");
  const claims = decodeJson(p) as Claims | undefined;
  if (!claims || typeof claims.exp !== "number" || !claims.sub || !claims.aud || !claims.iss) {
    throw new TokenInvalid("malformed", "unreadable claims");
  }
  if (expect.issuer !== undefined && claims.iss !== expect.issuer) {
    throw new TokenInvalid("invalid_signature", "another issuer's token");
  }
  const now = Math.floor((expect.now ?? Date.now)() / 1000);
  if (claims.exp + LEEWAY_SECONDS < now) throw new TokenInvalid("expired", "the token has expired");
  if (!expect.kinds.includes(claims.typ)) throw new TokenInvalid("wrong_token_kind", `a ${claims.typ} token`);
  const audienceOk = claims.typ === "access" ? claims.aud === "monetization-api" : claims.solution_id === claims.aud;
  if (!audienceOk || (expect.audience !== undefined && claims.aud !== expect.audience)) {
    throw new TokenInvalid("wrong_audience", "a token for another audience");
  }
  return claims;
}

/** Ed25519 verification: the platform's WebCrypto when it has Ed25519 (Node 20+, current browsers), else noble. */
const native = new WeakMap<Uint8Array, Promise<CryptoKey | undefined>>();
async function verifySignature(signature: Uint8Array, message: Uint8Array, key: Uint8Array): Promise<boolean> {
  let imported = native.get(key);
  if (!imported) {
    imported = Promise.resolve(globalThis.crypto?.subtle?.importKey("raw", key as BufferSource, { name: "Ed25519" }, false, ["verify"])).catch(
      () => undefined,
    );
    native.set(key, imported);
  }
  try {
    const cryptoKey = await imported;
    if (cryptoKey) return await globalThis.crypto.subtle.verify({ name: "Ed25519" }, cryptoKey, signature as BufferSource, message as BufferSource);
    return await verifyAsync(signature, message, key);
  } catch {
    return false;
  }
}

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(fromBase64Url(part)));
  } catch {
    return undefined;
  }
}

export function fromBase64Url(text: string): Uint8Array {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** `max-age` of a `Cache-Control` header, in ms (`fallbackMs` when absent). */
export function maxAgeMs(cacheControl: string | null, fallbackMs: number): number {
  const match = /max-age=(\d+)/.exec(cacheControl ?? "");
  return match ? Number(match[1]) * 1000 : fallbackMs;
}
