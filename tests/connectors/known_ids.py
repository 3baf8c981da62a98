"""The ids the state store would know (the engine's KnownIds), for connector tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from nexasync.connectors.base import Record
from nexasync.lead import Lead


class Known:
    """Known ids, with the base fields of each when given (a mapping of id -> fields)."""

    def __init__(self, ids: Iterable[str] | Mapping[str, Lead | None] = ()) -> None:
        self.bases: dict[str, Lead | None] = (
            dict(ids) if isinstance(ids, Mapping) else dict.fromkeys(ids)
        )

    @classmethod
    def of(cls, records: Iterable[Record]) -> Known:
        return cls({r.id: r.fields for r in records if not r.deleted and r.invalid is None})

    @property
    def ids(self) -> set[str]:
        return set(self.bases)

    def count(self) -> int:
        return len(self.bases)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.bases))

    def __contains__(self, item: object) -> bool:
        return item in self.bases

    def base(self, id: str) -> Lead | None:
        return self.bases.get(id)
