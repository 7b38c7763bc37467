"""Tokens signed as the API signs them (Ed25519, kid derived from the public key)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

API = "https://api.test"
SOLUTION = "sol_01jc4x5y6z7a8b9c0d1e2f3g4h"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Key:
    private: Ed25519PrivateKey
    kid: str
    x: str

    def jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": self.kid, "x": self.x}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        head = b64(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": self.kid, **header}).encode())
        body = b64(json.dumps(claims).encode())
        return f"{head}.{body}.{b64(self.private.sign(f'{head}.{body}'.encode()))}"


def new_key() -> Key:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Key(private, b64(hashlib.sha256(public).digest()[:12]), b64(public))


def claims(solution_id: str = SOLUTION, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "https://api.test", "sub": "usr_01jc4x5y6z7a8b9c0d1e2f3g4h", "aud": solution_id, "exp": now + 900,
        "iat": now, "jti": "tok_1", "typ": "solution", "fid": "fam_1", "email": "u@example.test",
        "solution_id": solution_id, "tier": "free", "scopes": ["usage:track"], **overrides,
    }
