"""Typed errors: every problem the API answers has a stable ``code`` (``models.ProblemCode``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any


class ApiError(Exception):
    """A problem+json answer of the API."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: int | None = None) -> None:
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code", "unknown"))
        self.retry_after = retry_after
        super().__init__(f"{status} {self.code}: {problem.get('detail') or problem.get('title', '')}")


class QuotaExceeded(ApiError):
    """429 ``quota_exceeded``: the event was not counted; the quota resets at ``reset_at``."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: int | None = None) -> None:
        super().__init__(status, problem, retry_after)
        self.used = int(problem.get("used") or 0)
        limit = problem.get("limit")
        self.limit = None if limit is None else int(limit)
        try:
            self.reset_at = datetime.fromisoformat(str(problem["reset_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            self.reset_at = datetime.now(timezone.utc) + timedelta(seconds=retry_after or 0)


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
