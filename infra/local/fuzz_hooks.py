"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS by infra/local/fuzz.py): strategies for
the string formats of infra/openapi.yaml that a pattern cannot describe completely."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
STATES = [f"{n:02d}" for n in range(1, 39) if n not in (25, 28)] + ["97"]  # as shared/src/gst.rs


def gstin_check(first14: str) -> str:
    """The GSTIN's mod-36 check character (factors 1, 2, 1, 2, ... from the left)."""
    total = 0
    for i, c in enumerate(first14):
        product = BASE36.index(c) * (1 if i % 2 == 0 else 2)
        total += product // 36 + product % 36
    return BASE36[(36 - total % 36) % 36]


@st.composite
def gstins(draw) -> str:
    upper = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    digit = st.sampled_from("0123456789")
    body = (draw(st.sampled_from(STATES)) + "".join(draw(upper) for _ in range(5))
            + "".join(draw(digit) for _ in range(4)) + draw(upper) + draw(st.sampled_from(BASE36[1:]))
            + draw(st.sampled_from("Z123456789ABDEFGHIJ")))
    return body + gstin_check(body)


assert gstin_check("27AAPFU0939F1Z") == "V", "the GSTIN check character is computed as the handlers do"

schemathesis.openapi.format("gstin", gstins())
schemathesis.openapi.format("time-zone", st.sampled_from(
    ["UTC", "Asia/Kolkata", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo"]))
