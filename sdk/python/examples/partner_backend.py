"""A partner's backend, the five-minute integration (Python): check the user's solution token offline, then meter
each use with the partner's API key. Usage that cannot be sent waits in a queue and goes out in order, with its
first idempotency keys, when the API answers again: nothing is lost or counted twice."""

from __future__ import annotations

import httpx

from monetization_sdk import MarketplaceClient, QuotaExceeded, RetryPolicy


def partner_backend(
    base_url: str, api_key: str, solution_id: str, user_token: str, uses: int, http: httpx.Client | None = None
) -> dict:
    with MarketplaceClient(base_url, api_key=api_key, http=http, retry=RetryPolicy(max_retries=2, base_delay=0.05)) as api:
        # 1. Who is calling: verified offline against the API's published keys.
        user = api.validate_token(user_token, solution_id=solution_id)
        # 2. Meter each use for that user; a refusal means the user's quota is used up.
        outcomes = {"counted": 0, "queued": 0, "refused": 0}
        for i in range(uses):
            try:
                queued, _, _ = api.track_usage(
                    "report.generate", customer_id=user["sub"], solution_id=solution_id, metadata={"request": i}
                )
                outcomes["queued" if queued else "counted"] += 1
            except QuotaExceeded:
                outcomes["refused"] += 1
        # 3. Before shutting down: send what waited.
        flushed = api.flush()
        return {"user": user["sub"], "outcomes": outcomes, "flushed": flushed, "pending": len(api.pending())}


if __name__ == "__main__":
    import os
    import sys

    print(
        partner_backend(
            os.environ.get("MONETIZATION_API", "http://127.0.0.1:3000"),
            os.environ["MONETIZATION_API_KEY"],
            sys.argv[1],
            sys.argv[2],
            int(sys.argv[3]) if len(sys.argv) > 3 else 1,
        )
    )
