"""The state store: links, base snapshots, cursors, intents, runs, record errors."""

from nexasync.store.store import (
    Event,
    Intent,
    Link,
    LinkConflict,
    RecordError,
    Run,
    StateStore,
    StoreError,
)

__all__ = [
    "Event",
    "Intent",
    "Link",
    "LinkConflict",
    "RecordError",
    "Run",
    "StateStore",
    "StoreError",
]
