"""Client SDK of the monetization API (sync and async, httpx): offline token validation, idempotent retried usage
tracking with an offline queue, the user's context and token renewal. Models are generated from
``infra/openapi.yaml`` (``models.py``)."""

from ._core import FlushReport, QuotaView, RetryPolicy
from .client import AsyncMarketplaceClient, MarketplaceClient
from .errors import ApiError, NetworkError, QuotaExceeded, SessionEnded, SpendingCapReached, TokenInvalid
from .queue import FileStorage, MemoryStorage, QueueStorage

__all__ = [
    "ApiError",
    "AsyncMarketplaceClient",
    "FileStorage",
    "FlushReport",
    "MarketplaceClient",
    "MemoryStorage",
    "NetworkError",
    "QueueStorage",
    "QuotaExceeded",
    "QuotaView",
    "RetryPolicy",
    "SessionEnded",
    "SpendingCapReached",
    "TokenInvalid",
]
