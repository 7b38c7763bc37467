"""What the sync and the async clients share: options, requests and their answers, the quota view, the
verified-token memory, events, and the queue's bookkeeping. The clients add only the I/O."""

from __future__ import annotations

import base64
import json
import random as _random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx

from .errors import ApiError, error_for
from .jwks import JwksCache
from .queue import MemoryStorage, QueuedEvent, QueueStorage

BATCH = 100


@dataclass
class RetryPolicy:
    """Retries after the first attempt, with full jitter on a doubling ceiling; a ``Retry-After`` beyond
    ``max_delay`` is not waited for (the error is raised)."""

    max_retries: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0

    def backoff(self, attempt: int, rand: Callable[[], float], retry_after: int | None) -> float:
        if retry_after is not None:
            return float(retry_after)
        return rand() * min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


@dataclass
class QuotaView:
    limit: int | None
    remaining: int | None
    reset_at: datetime


@dataclass
class FlushReport:
    sent: int = 0
    counted: int = 0
    refused: int = 0
    #: Events the API refused for good (4xx other than 429): dropped, each reported by an ``error`` event.
    rejected: int = 0
    #: Still queued (the API or the network failed again).
    remaining: int = 0


def expiry_of(token: str) -> int | None:
    """The ``exp`` of a JWT, unverified (only to renew it in time)."""
    try:
        payload = token.split(".")[1]
        exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("exp")
    except (IndexError, ValueError, AttributeError):
        return None
    return exp if isinstance(exp, int) else None


def rfc3339(at: str | datetime) -> str:
    """An event's own time as the API takes it: a string as given (RFC 3339), a datetime in UTC
    (``2026-12-03T10:15:00Z``). A naive datetime is ambiguous and refused (``ValueError``): give it a time zone."""
    if isinstance(at, str):
        return at
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("timestamp: a naive datetime; give it a time zone (e.g. datetime.now(timezone.utc))")
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Core:
    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | Callable[[], str | None] | None = None,
        refresh_token: str | None = None,
        issuer: str | None = None,
        queue: QueueStorage | None | bool = None,
        retry: RetryPolicy | None = None,
        quota_warning_at: float = 0.2,
        now: Callable[[], float] = time.time,
        rand: Callable[[], float] = _random.random,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._token_fn = token if callable(token) else None
        self.tokens: dict[str, str] | None = (
            {"token": token, **({"refresh_token": refresh_token} if refresh_token else {})}
            if isinstance(token, str)
            else None
        )
        self.issuer = issuer
        self.queue: QueueStorage | None = None if queue is False else (queue or MemoryStorage())  # type: ignore[assignment]
        self.retry = retry or RetryPolicy()
        self.quota_warning_at = quota_warning_at
        self.now = now
        self.rand = rand
        self.jwks = JwksCache(now=now)
        self._verified: dict[str, tuple[dict[str, Any], int]] = {}
        self._quotas: dict[str, QuotaView] = {}
        self._listeners: dict[str, list[Callable[[Any], None]]] = {}
        self._context: tuple[str, float, Any] | None = None

    # -- events -------------------------------------------------------------------------------------------
    def on(self, event: str, listener: Callable[[Any], None]) -> Callable[[], None]:
        """Listen to ``token_refreshed``, ``session_ended``, ``quota_warning``, ``quota_exceeded``,
        ``queue_flushed`` or ``error``; returns the function that stops listening."""
        self._listeners.setdefault(event, []).append(listener)
        return lambda: self._listeners.get(event, []).remove(listener)

    def _emit(self, event: str, payload: Any) -> None:
        for listener in list(self._listeners.get(event, [])):
            try:
                listener(payload)
            except Exception:  # noqa: BLE001 - a listener's failure is its own
                pass

    # -- requests -------------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, headers: dict[str, str | None] | None = None):
        sent = {k: v for k, v in (headers or {}).items() if v is not None}
        sent["accept"] = "application/json, application/problem+json"
        return {"method": method, "url": self.base_url + path, "json": body, "headers": sent}

    @staticmethod
    def _answer(response: httpx.Response) -> Any:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.is_success:
            return body
        retry_after = response.headers.get("retry-after")
        problem = body if isinstance(body, dict) and "code" in body else {
            "type": "about:blank", "title": response.reason_phrase, "status": response.status_code, "code": "unknown"
        }
        raise error_for(response.status_code, problem, int(retry_after) if retry_after and retry_after.isdigit() else None)

    def _bearer_now(self) -> tuple[str | None, bool]:
        """The token to send and whether it must be renewed first (it expires within 30 s)."""
        if self._token_fn is not None:
            return self._token_fn(), False
        if not self.tokens:
            return None, False
        exp = expiry_of(self.tokens["token"])
        renew = "refresh_token" in self.tokens and exp is not None and exp - self.now() < 30
        return self.tokens["token"], renew

    def _headers(self, token: str | None, anonymous_id: str | None = None) -> dict[str, str | None]:
        return {
            "authorization": f"Bearer {token}" if token else None,
            "x-api-key": self.api_key,
            "x-anonymous-id": anonymous_id,
        }

    def _renewable(self, error: BaseException) -> bool:
        return (
            isinstance(error, ApiError)
            and error.status == 401
            and error.code == "expired"
            and bool(self.tokens and "refresh_token" in self.tokens)
        )

    def _refreshed(self, body: dict[str, Any]) -> str:
        token = body.get("access_token") or body.get("token") or ""
        self.tokens = {"token": token, "refresh_token": body["refresh_token"]}
        self._context = None
        self._emit("token_refreshed", dict(self.tokens))
        return token

    # -- tracking -----------------------------------------------------------------------------------------
    @staticmethod
    def _queued(
        action: str,
        quantity: int | None,
        metadata: dict[str, Any] | None,
        idempotency_key: str | None,
        solution_id: str | None,
        customer_id: str | None,
        anonymous_id: str | None,
        now: float,
        timestamp: str | datetime | None = None,
    ) -> QueuedEvent:
        body: dict[str, Any] = {"action": action, "idempotency_key": idempotency_key or str(uuid.uuid4())}
        for name, value in (("quantity", quantity), ("metadata", metadata), ("solution_id", solution_id), ("customer_id", customer_id)):
            if value is not None:
                body[name] = value
        if timestamp is not None:
            body["timestamp"] = rfc3339(timestamp)
        return {"body": body, "anonymous_id": anonymous_id, "queued_at": now}

    def quota(self, solution_id: str | None = None, customer: str | None = None) -> QuotaView | None:
        """The last known quota of a solution (for a customer or visitor when given), from the API's answers."""
        return self._quotas.get(f"{solution_id or ''}|{customer or ''}")

    def _note(self, event: QueuedEvent, view: QuotaView) -> None:
        who = event["body"].get("customer_id") or event.get("anonymous_id") or ""
        self._quotas[f"{event['body'].get('solution_id', '')}|{who}"] = view
        if view.limit is not None and view.remaining is not None and 0 < view.remaining <= view.limit * self.quota_warning_at:
            self._emit("quota_warning", view)

    def _observe(self, event: QueuedEvent, response_headers: httpx.Headers, answer: dict[str, Any]) -> None:
        limit, remaining = response_headers.get("ratelimit-limit"), response_headers.get("ratelimit-remaining")
        if limit is not None and remaining is not None:
            reset = datetime.now(timezone.utc) + timedelta(seconds=int(response_headers.get("ratelimit-reset", "0")))
            self._note(event, QuotaView(int(limit), int(remaining), reset))
        else:
            self._note_answer(event, answer)

    def _note_answer(self, event: QueuedEvent, answer: dict[str, Any]) -> None:
        reset = datetime.fromisoformat(str(answer["reset_at"]).replace("Z", "+00:00"))
        self._note(event, QuotaView(answer.get("limit"), answer.get("remaining"), reset))

    @staticmethod
    def _next_batch(events: list[QueuedEvent]) -> list[QueuedEvent]:
        """The first events that share a caller (the anonymous id is a header of the batch), at most 100."""
        visitor = events[0].get("anonymous_id")
        batch = []
        for e in events[:BATCH]:
            if e.get("anonymous_id") != visitor:
                break
            batch.append(e)
        return batch

    def _settle(self, batch: list[QueuedEvent], results: list[dict[str, Any]], report: FlushReport) -> list[QueuedEvent]:
        """Count a batch's results into ``report``; the events to keep queued (the API could not take them)."""
        keep = []
        for queued, result in zip(batch, results):
            status = result.get("status", 0)
            code = str((result.get("problem") or {}).get("code", ""))
            if status == 200:
                report.counted += 1
                self._note_answer(queued, result["answer"])
            elif status == 429:
                report.refused += 1
                if result.get("answer"):
                    self._note_answer(queued, result["answer"])
            elif status >= 500 or (status == 409 and code.endswith("_in_progress")):
                keep.append(queued)
            else:
                report.rejected += 1
                self._emit("error", {"error": result.get("problem"), "event": queued})
        return keep

    def _replace(self, sent: list[QueuedEvent], keep: list[QueuedEvent]) -> None:
        if self.queue is None:
            return
        keys = {e["body"]["idempotency_key"] for e in sent}
        rest = [e for e in self.queue.load() if e["body"]["idempotency_key"] not in keys]
        self.queue.save(keep + rest)

    def _enqueue(self, event: QueuedEvent) -> None:
        if self.queue is not None:
            self.queue.save(self.queue.load() + [event])

    def pending(self) -> list[QueuedEvent]:
        """Events waiting to be sent."""
        return self.queue.load() if self.queue is not None else []

    # -- validation ---------------------------------------------------------------------------------------
    def _remembered(self, token: str) -> dict[str, Any] | None:
        known = self._verified.get(token)
        if known is None:
            return None
        claims, generation = known
        if claims["exp"] <= self.now() or generation != self.jwks.generation or not self.jwks.fresh():
            return None
        return claims

    def _remember(self, token: str, claims: dict[str, Any]) -> None:
        if len(self._verified) >= 1000:
            self._verified.clear()
        self._verified[token] = (claims, self.jwks.generation)
