"""Against the real local stack (``make dev``; ``make test`` sets SDK_API_URL and DEV_STATE_DIR): the partner
backend example meters through a network that fails mid-way, and the API's count is exactly the number of uses."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from partner_backend import partner_backend  # noqa: E402

from monetization_sdk import MarketplaceClient, SessionEnded  # noqa: E402

BASE = os.environ.get("SDK_API_URL")
STATE = os.environ.get("DEV_STATE_DIR")
pytestmark = pytest.mark.skipif(not BASE or not STATE, reason="needs the local stack (make test)")


def api(method: str, path: str, body=None, bearer: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    r = httpx.request(method, f"{BASE}{path}", json=body, headers=headers)
    assert r.is_success, f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


class FlakyNetwork(httpx.BaseTransport):
    """Calls 4-7 never leave (connection refused); call 10 reaches the API but its answer is lost."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if 4 <= self.calls <= 7:
            raise httpx.ConnectError("injected: no network", request=request)
        response = self.inner.handle_request(request)
        if self.calls == 10:
            response.read()
            raise httpx.ReadError("injected: the answer was lost", request=request)
        return response


def test_the_partner_backend_example_counts_every_use_exactly_once_through_a_failing_network():
    state = json.loads((Path(STATE or "") / "dev-state" / "state.json").read_text())
    solution_id = state["solution_id"]
    partner = api("POST", "/api/auth/login", {"email": state["partner_email"], "password": state["partner_password"]})
    key = api(
        "POST", f"/api/partners/{state['partner_id']}/api-keys",
        {"name": f"sdk-py-{uuid.uuid4().hex[:8]}", "solution_ids": [solution_id]}, partner["access_token"],
    )
    user = api("POST", "/api/auth/register", {"email": f"sdk-py-{uuid.uuid4().hex}@example.test", "password": "a long enough password", "name": "SDK"})
    issued = api("POST", "/api/generate-token", {"solution_id": solution_id}, user["access_token"])

    uses = 12
    run = partner_backend(BASE or "", key["key"], solution_id, issued["token"], uses, http=httpx.Client(transport=FlakyNetwork()))
    assert run["user"] == user["user_id"] and run["outcomes"]["queued"] > 0 and run["pending"] == 0
    quota = api("GET", f"/api/quotas/{user['user_id']}/{solution_id}", bearer=user["access_token"])
    assert quota["used"] == uses

    # The app's side: the solution token renewed, the context read with it; the spent refresh token ends a session.
    app = MarketplaceClient(BASE or "", token=issued["token"], refresh_token=issued["refresh_token"])
    app.refresh_token()
    assert app.get_user_context().user.user_id.root == user["user_id"]
    stale = MarketplaceClient(BASE or "", token=issued["token"], refresh_token=issued["refresh_token"])
    with pytest.raises(SessionEnded):
        stale.refresh_token()
