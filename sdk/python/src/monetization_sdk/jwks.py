"""Offline verification of the API's tokens (EdDSA / Ed25519 JWTs) against its published keys
(``GET /.well-known/jwks.json``), cached as long as the answer's ``max-age`` says and fetched again when a token
names a key the cache lacks (a rotation), at most once per ``min_refetch`` seconds."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import TokenInvalid

LEEWAY_SECONDS = 5


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def max_age(cache_control: str | None, fallback: float) -> float:
    match = re.search(r"max-age=(\d+)", cache_control or "")
    return float(match.group(1)) if match else fallback


@dataclass
class JwksCache:
    """The keys, what the client fetches and when (the fetching itself is the sync or async client's)."""

    now: Callable[[], float] = time.time
    min_refetch: float = 30.0
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    max_age: float = 0.0
    generation: int = 0

    def needs_fetch(self, kid: str) -> bool:
        age = self.now() - self.fetched_at
        return age > self.max_age or (kid not in self.keys and age >= self.min_refetch)

    def fresh(self) -> bool:
        return self.now() - self.fetched_at <= self.max_age

    def update(self, jwks: dict[str, Any], max_age_seconds: float) -> None:
        keys = {}
        for k in jwks.get("keys", []):
            if k.get("kty") == "OKP" and k.get("crv") == "Ed25519" and k.get("alg", "EdDSA") == "EdDSA":
                keys[k["kid"]] = Ed25519PublicKey.from_public_bytes(b64url_decode(k["x"]))
        self.keys, self.fetched_at, self.max_age = keys, self.now(), max_age_seconds
        self.generation += 1


def header_kid(token: str) -> str:
    """The ``kid`` a token names (before its key is looked up); ``TokenInvalid`` when it cannot be read."""
    parts = token.strip().split(".")
    if len(parts) != 3 or len(token) > 8192:
        raise TokenInvalid("malformed", "not a JWT")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError as e:
        raise TokenInvalid("malformed", "unreadable header") from e
    if not isinstance(header, dict) or header.get("alg") != "EdDSA" or not header.get("kid"):
        raise TokenInvalid("invalid_signature", "not an EdDSA token of the API")
    return str(header["kid"])


def verify(
    token: str,
    cache: JwksCache,
    *,
    kinds: tuple[str, ...],
    audience: str | None = None,
    issuer: str | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` when it verifies as the API would verify it (the keys already fetched)."""
    kid = header_kid(token)
    key = cache.keys.get(kid)
    if key is None:
        raise TokenInvalid("invalid_signature", f"unknown key {kid}")
    h, p, s = token.strip().split(".")
    try:
        key.verify(b64url_decode(s), f"{h}.{p}".encode())
    except (InvalidSignature, ValueError) as e:
        raise TokenInvalid("invalid_signature", "the signature does not verify") from e
    try:
        claims = json.loads(b64url_decode(p))
    except ValueError as e:
        raise TokenInvalid("malformed", "unreadable claims") from e
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or not claims.get("sub"):
        raise TokenInvalid("malformed", "unreadable claims")
    if issuer is not None and claims.get("iss") != issuer:
        raise TokenInvalid("invalid_signature", "another issuer's token")
    if claims["exp"] + LEEWAY_SECONDS < cache.now():
        raise TokenInvalid("expired", "the token has expired")
    if claims.get("typ") not in kinds:
        raise TokenInvalid("wrong_token_kind", f"a {claims.get('typ')} token")
    aud = claims.get("aud")
    aud_ok = aud == "monetization-api" if claims["typ"] == "access" else claims.get("solution_id") == aud
    if not aud_ok or (audience is not None and aud != audience):
        raise TokenInvalid("wrong_audience", "a token for another audience")
    return claims
