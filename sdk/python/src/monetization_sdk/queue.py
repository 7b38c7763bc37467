"""The offline queue: usage that could not be sent waits, in order, with the idempotency key it was first sent
with, and ``flush`` sends it again — never counted twice (the API answers a known key with its first answer),
never lost while its storage lasts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

QueuedEvent = dict[str, Any]
"""``{"body": <the track-usage body, idempotency_key set, timestamp when given>, "anonymous_id": str | None,
"queued_at": float}``"""


class QueueStorage(Protocol):
    def load(self) -> list[QueuedEvent]: ...

    def save(self, events: list[QueuedEvent]) -> None: ...


class MemoryStorage:
    """In memory: lost with the process."""

    def __init__(self) -> None:
        self._events: list[QueuedEvent] = []

    def load(self) -> list[QueuedEvent]:
        return json.loads(json.dumps(self._events))

    def save(self, events: list[QueuedEvent]) -> None:
        self._events = json.loads(json.dumps(events))


class FileStorage:
    """A JSON file, written to a temporary file and renamed over the old one (a crash leaves one or the other)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> list[QueuedEvent]:
        try:
            value = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        return value if isinstance(value, list) else []

    def save(self, events: list[QueuedEvent]) -> None:
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(events))
        os.replace(tmp, self.path)
