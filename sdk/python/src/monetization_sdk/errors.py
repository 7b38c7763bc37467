"""Typed errors: every problem the API answers has a stable ``code`` (``models.ProblemCode``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from .models import PeriodUsage


class ApiError(Exception):
    """A problem+json answer of the API."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: int | None = None) -> None:
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code", "unknown"))
        self.retry_after = retry_after
        super().__init__(f"{status} {self.code}: {problem.get('detail') or problem.get('title', '')}")


class QuotaExceeded(ApiError):
    """429 ``quota_exceeded`` (a tier's daily or monthly limit, or a usage-priced billing period's allowance under a
    hard limit): the event was not counted; the refusal ends at ``reset_at`` (the next local midnight, or the end of
    the billing period when ``refused_by`` is ``allowance`` or ``spending_cap``). Never retried. A spending cap's
    refusal is the subclass ``SpendingCapReached``, so ``except QuotaExceeded`` catches both.

    ``refused_by``: which limit refused the event (``daily_limit``, ``monthly_limit``, ``allowance``,
    ``spending_cap``), ``None`` when the API does not say; ``billing_period``: the problem's ``billing_period``
    (``models.PeriodUsage``) under a usage-priced subscription, else ``None``."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: int | None = None) -> None:
        super().__init__(status, problem, retry_after)
        self.used = int(problem.get("used") or 0)
        limit = problem.get("limit")
        self.limit = None if limit is None else int(limit)
        try:
            self.reset_at = datetime.fromisoformat(str(problem["reset_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            self.reset_at = datetime.now(timezone.utc) + timedelta(seconds=retry_after or 0)
        refused_by = problem.get("refused_by")
        self.refused_by: str | None = refused_by if isinstance(refused_by, str) else None
        self.billing_period: PeriodUsage | None = None
        period = problem.get("billing_period")
        if isinstance(period, dict):
            try:
                self.billing_period = PeriodUsage.model_validate(period)
            except ValidationError:
                pass  # a period this version cannot read: the problem still has it


class SpendingCapReached(QuotaExceeded):
    """429 ``spending_cap_reached``: the subscriber's spending cap on overage is reached for this billing period
    (a ``QuotaExceeded``); usage is refused until ``reset_at``, the period's end, unless the cap is raised
    (``PUT /api/subscriptions/{id}/spending-cap``)."""


class SessionEnded(ApiError):
    """The refresh token was reused or is no longer valid: the user signs in again."""


class NetworkError(Exception):
    """No answer from the API (connection refused or reset, DNS, timeout)."""


class TokenInvalid(Exception):
    """A token that does not verify offline; ``code`` is what the API would answer for it."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


def error_for(status: int, problem: dict[str, Any], retry_after: int | None) -> ApiError:
    code = problem.get("code")
    if code == "quota_exceeded":
        return QuotaExceeded(status, problem, retry_after)
    if code == "spending_cap_reached":
        return SpendingCapReached(status, problem, retry_after)
    if code in ("refresh_token_reused", "invalid_refresh_token"):
        return SessionEnded(status, problem, retry_after)
    return ApiError(status, problem, retry_after)


def retryable(error: BaseException) -> bool:
    """Network errors, 5xx and 409 ``*_in_progress`` are worth another attempt; a 4xx never is."""
    if isinstance(error, NetworkError):
        return True
    if not isinstance(error, ApiError):
        return False
    return error.status >= 500 or (
        error.status == 409 and (error.code.endswith("_in_progress") or error.code == "concurrent_update")
    )
