"""``MarketplaceClient`` (httpx, sync) and ``AsyncMarketplaceClient`` (httpx, async): the same surface — offline
token validation, idempotent retried usage tracking with an offline queue, the user's context, token renewal."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime
from typing import Any

import httpx

from ._core import Core, FlushReport
from .errors import ApiError, NetworkError, QuotaExceeded, SessionEnded, TokenInvalid, retryable
from .jwks import header_kid, max_age, verify
from .models import TrackAnswer, UserContext


class MarketplaceClient(Core):
    """The synchronous client. ``http``: your own ``httpx.Client`` (transports, proxies, tests)."""

    def __init__(self, base_url: str, *, http: httpx.Client | None = None, sleep=time.sleep, **options: Any) -> None:
        super().__init__(base_url, **options)
        self.http = http or httpx.Client(timeout=10.0)
        self.sleep = sleep
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()

    def __enter__(self) -> MarketplaceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: Any = None, headers: dict[str, str | None] | None = None):
        request = self._request(method, path, body, headers)
        attempt = 0
        while True:
            try:
                try:
                    response = self.http.request(**request)
                except httpx.TransportError as e:
                    raise NetworkError(f"no answer from {request['url']}: {e}") from e
                return self._answer(response), response.headers
            except Exception as error:
                if not retryable(error) or attempt >= self.retry.max_retries:
                    raise
                attempt += 1
                wait = self.retry.backoff(attempt, self.rand, getattr(error, "retry_after", None))
                if wait > self.retry.max_delay:
                    raise
                self.sleep(wait)

    def refresh_token(self) -> str:
        """Renew the token with its refresh token now (one renewal at a time: a refresh token is single use).
        Raises ``SessionEnded`` when the refresh token was reused or is no longer valid."""
        spent = (self.tokens or {}).get("refresh_token")
        with self._refresh_lock:
            if self.tokens and self.tokens.get("refresh_token") != spent:
                return self.tokens["token"]  # another thread renewed it meanwhile
            if not spent:
                raise RuntimeError("no refresh token to renew the token with")
            try:
                body, _ = self._call("POST", "/api/refresh-token", {"refresh_token": spent})
            except ApiError as e:
                if e.status != 401:
                    raise
                ended = e if isinstance(e, SessionEnded) else SessionEnded(e.status, e.problem, e.retry_after)
                self.tokens = None
                self._emit("session_ended", ended)
                raise ended from e
            return self._refreshed(body)

    def _bearer(self) -> str | None:
        token, renew = self._bearer_now()
        return self.refresh_token() if renew else token

    def _with_token(self, method: str, path: str, body: Any = None, anonymous_id: str | None = None):
        try:
            return self._call(method, path, body, self._headers(self._bearer(), anonymous_id))
        except ApiError as error:
            if not self._renewable(error):
                raise
            self.refresh_token()
            return self._call(method, path, body, self._headers(self._bearer(), anonymous_id))

    def _fetch_jwks(self) -> None:
        body, headers = self._call("GET", "/.well-known/jwks.json")
        self.jwks.update(body, max_age(headers.get("cache-control"), 300.0))

    def validate_token(self, token: str, *, solution_id: str | None = None, online: bool = False) -> dict[str, Any]:
        """Verify a solution token offline (its signature, issuer, expiry, kind and solution); ``online=True``
        asks ``POST /api/validate-token`` too (revocations, suspended solutions). Raises ``TokenInvalid``."""
        claims = self._remembered(token)
        if claims is None:
            if self.jwks.needs_fetch(header_kid(token)):
                self._fetch_jwks()
            claims = verify(token, self.jwks, kinds=("solution",), issuer=self.issuer)
            self._remember(token, claims)
        if solution_id is not None and claims["aud"] != solution_id:
            raise TokenInvalid("wrong_audience", "a token for another solution")
        if online:
            body = {"token": token, **({"solution_id": solution_id} if solution_id else {})}
            answer, _ = self._call("POST", "/api/validate-token", body, {"x-api-key": self.api_key})
            if not answer.get("valid"):
                raise TokenInvalid("invalid_signature", "the API did not accept the token")
        return claims

    def track_usage(
        self,
        action: str,
        *,
        quantity: int | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        solution_id: str | None = None,
        customer_id: str | None = None,
        anonymous_id: str | None = None,
        timestamp: str | datetime | None = None,
    ) -> tuple[bool, str, TrackAnswer | None]:
        """Count one use: ``(queued, key, answer)``. One idempotency key (yours or a UUID) for every retry and
        for the queue. ``timestamp``: when the usage happened (RFC 3339 string, or an aware datetime sent in UTC),
        for late events. Raises ``QuotaExceeded`` when refused (``SpendingCapReached`` at the spending cap; never
        retried nor queued), ``ApiError`` for a bad event; queues the event when the API cannot be reached
        (``queued`` is then true)."""
        event = self._queued(
            action, quantity, metadata, idempotency_key, solution_id, customer_id, anonymous_id, self.now(), timestamp
        )
        key = event["body"]["idempotency_key"]
        if self.queue is not None and self.queue.load():
            try:
                report = self.flush()
            except Exception:  # noqa: BLE001 - the event waits behind the queue either way
                report = None
            if report is None or report.remaining > 0:
                with self._lock:
                    self._enqueue(event)
                return True, key, None
        try:
            body, headers = self._with_token("POST", "/api/track-usage", event["body"], anonymous_id)
        except QuotaExceeded as e:
            self._emit("quota_exceeded", e)
            raise
        except Exception as error:
            if self.queue is None or not retryable(error):
                raise
            with self._lock:
                self._enqueue(event)
            self._emit("error", {"error": error, "event": event})
            return True, key, None
        self._observe(event, headers, body)
        return False, key, TrackAnswer.model_validate(body)

    def flush(self) -> FlushReport:
        """Send the queued events in order, in batches (``POST /api/track-usage/batch``) with their first keys."""
        report = FlushReport()
        if self.queue is None:
            return report
        with self._lock:
            events = self.queue.load()
            try:
                while events:
                    batch = self._next_batch(events)
                    body, _ = self._with_token(
                        "POST", "/api/track-usage/batch", {"events": [e["body"] for e in batch]}, batch[0].get("anonymous_id")
                    )
                    report.sent += len(batch)
                    keep = self._settle(batch, body["results"], report)
                    self._replace(batch, keep)
                    events = keep + events[len(batch):]
                    if keep:
                        break
            except Exception as error:
                if not retryable(error):
                    raise
                self._emit("error", {"error": error})
            report.remaining = len(self.queue.load())
        if report.sent:
            self._emit("queue_flushed", report)
        return report

    def get_user_context(self, *, max_age_seconds: float = 30.0) -> UserContext:
        """``GET /api/user-context``, cached for ``max_age_seconds`` per token."""
        token = self._bearer()
        if self._context and self._context[0] == token and self.now() - self._context[1] < max_age_seconds:
            return self._context[2]
        body, _ = self._with_token("GET", "/api/user-context")
        context = UserContext.model_validate(body)
        self._context = (self._bearer() or "", self.now(), context)
        return context


class AsyncMarketplaceClient(Core):
    """The asyncio client: the same surface as ``MarketplaceClient``, each call awaited."""

    def __init__(self, base_url: str, *, http: httpx.AsyncClient | None = None, sleep=asyncio.sleep, **options: Any) -> None:
        super().__init__(base_url, **options)
        self.http = http or httpx.AsyncClient(timeout=10.0)
        self.sleep = sleep
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[str] | None = None

    async def __aenter__(self) -> AsyncMarketplaceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, body: Any = None, headers: dict[str, str | None] | None = None):
        request = self._request(method, path, body, headers)
        attempt = 0
        while True:
            try:
                try:
                    response = await self.http.request(**request)
                except httpx.TransportError as e:
                    raise NetworkError(f"no answer from {request['url']}: {e}") from e
                return self._answer(response), response.headers
            except Exception as error:
                if not retryable(error) or attempt >= self.retry.max_retries:
                    raise
                attempt += 1
                wait = self.retry.backoff(attempt, self.rand, getattr(error, "retry_after", None))
                if wait > self.retry.max_delay:
                    raise
                await self.sleep(wait)

    async def refresh_token(self) -> str:
        """Renew the token now; concurrent callers share one renewal. Raises ``SessionEnded``."""
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._refresh())
            self._refreshing.add_done_callback(lambda _: setattr(self, "_refreshing", None))
        return await asyncio.shield(self._refreshing)

    async def _refresh(self) -> str:
        spent = (self.tokens or {}).get("refresh_token")
        if not spent:
            raise RuntimeError("no refresh token to renew the token with")
        try:
            body, _ = await self._call("POST", "/api/refresh-token", {"refresh_token": spent})
        except ApiError as e:
            if e.status != 401:
                raise
            ended = e if isinstance(e, SessionEnded) else SessionEnded(e.status, e.problem, e.retry_after)
            self.tokens = None
            self._emit("session_ended", ended)
            raise ended from e
        return self._refreshed(body)

    async def _bearer(self) -> str | None:
        token, renew = self._bearer_now()
        return await self.refresh_token() if renew else token

    async def _with_token(self, method: str, path: str, body: Any = None, anonymous_id: str | None = None):
        try:
            return await self._call(method, path, body, self._headers(await self._bearer(), anonymous_id))
        except ApiError as error:
            if not self._renewable(error):
                raise
            await self.refresh_token()
            return await self._call(method, path, body, self._headers(await self._bearer(), anonymous_id))

    async def validate_token(self, token: str, *, solution_id: str | None = None, online: bool = False) -> dict[str, Any]:
        """As ``MarketplaceClient.validate_token``."""
        claims = self._remembered(token)
        if claims is None:
            if self.jwks.needs_fetch(header_kid(token)):
                body, headers = await self._call("GET", "/.well-known/jwks.json")
                self.jwks.update(body, max_age(headers.get("cache-control"), 300.0))
            claims = verify(token, self.jwks, kinds=("solution",), issuer=self.issuer)
            self._remember(token, claims)
        if solution_id is not None and claims["aud"] != solution_id:
            raise TokenInvalid("wrong_audience", "a token for another solution")
        if online:
            body = {"token": token, **({"solution_id": solution_id} if solution_id else {})}
            answer, _ = await self._call("POST", "/api/validate-token", body, {"x-api-key": self.api_key})
            if not answer.get("valid"):
                raise TokenInvalid("invalid_signature", "the API did not accept the token")
        return claims

    async def track_usage(
        self,
        action: str,
        *,
        quantity: int | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        solution_id: str | None = None,
        customer_id: str | None = None,
        anonymous_id: str | None = None,
        timestamp: str | datetime | None = None,
    ) -> tuple[bool, str, TrackAnswer | None]:
        """As ``MarketplaceClient.track_usage``."""
        event = self._queued(
            action, quantity, metadata, idempotency_key, solution_id, customer_id, anonymous_id, self.now(), timestamp
        )
        key = event["body"]["idempotency_key"]
        if self.queue is not None and self.queue.load():
            try:
                report = await self.flush()
            except Exception:  # noqa: BLE001 - the event waits behind the queue either way
                report = None
            if report is None or report.remaining > 0:
                async with self._lock:
                    self._enqueue(event)
                return True, key, None
        try:
            body, headers = await self._with_token("POST", "/api/track-usage", event["body"], anonymous_id)
        except QuotaExceeded as e:
            self._emit("quota_exceeded", e)
            raise
        except Exception as error:
            if self.queue is None or not retryable(error):
                raise
            async with self._lock:
                self._enqueue(event)
            self._emit("error", {"error": error, "event": event})
            return True, key, None
        self._observe(event, headers, body)
        return False, key, TrackAnswer.model_validate(body)

    async def flush(self) -> FlushReport:
        """As ``MarketplaceClient.flush``."""
        report = FlushReport()
        if self.queue is None:
            return report
        async with self._lock:
            events = self.queue.load()
            try:
                while events:
                    batch = self._next_batch(events)
                    body, _ = await self._with_token(
                        "POST", "/api/track-usage/batch", {"events": [e["body"] for e in batch]}, batch[0].get("anonymous_id")
                    )
                    report.sent += len(batch)
                    keep = self._settle(batch, body["results"], report)
                    self._replace(batch, keep)
                    events = keep + events[len(batch):]
                    if keep:
                        break
            except Exception as error:
                if not retryable(error):
                    raise
                self._emit("error", {"error": error})
            report.remaining = len(self.queue.load())
        if report.sent:
            self._emit("queue_flushed", report)
        return report

    async def get_user_context(self, *, max_age_seconds: float = 30.0) -> UserContext:
        """As ``MarketplaceClient.get_user_context``."""
        token = await self._bearer()
        if self._context and self._context[0] == token and self.now() - self._context[1] < max_age_seconds:
            return self._context[2]
        body, _ = await self._with_token("GET", "/api/user-context")
        context = UserContext.model_validate(body)
        self._context = (await self._bearer() or "", self.now(), context)
        return context


__all__ = ["AsyncMarketplaceClient", "MarketplaceClient"]
