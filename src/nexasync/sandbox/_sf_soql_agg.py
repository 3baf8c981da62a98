"""SOQL aggregate functions without GROUP BY: which ones a field takes, the names the
answer uses (an alias, else ``expr0``, ``expr1``... in order), and the one
AggregateResult row they compute.

As documented, every aggregate ignores nulls except ``COUNT(Id)``; MIN and MAX take
numbers, text and dates; SUM and AVG numbers only; over no rows COUNT is 0 and the
others null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nexasync.sandbox._sf_schema import NUMBER_TYPES, Field

AGGREGATES = ("COUNT", "COUNT_DISTINCT", "MIN", "MAX", "SUM", "AVG")


@dataclass
class Aggregate:
    func: str
    field: Field
    alias: str


def build(
    items: list[tuple[str, Field, str | None]], fail: Callable[[int, str, str], Any]
) -> list[Aggregate]:
    """``items``: (function, field, alias or None), in the order selected; ``fail(index,
    message, code)`` reports the item at ``index`` as Salesforce does."""
    out: list[Aggregate] = []
    implied = 0
    for index, (func, f, alias) in enumerate(items):
        if func in ("SUM", "AVG") and f.type not in NUMBER_TYPES:
            fail(index, f"field {f.name} does not support aggregate operator {func}",
                 "INVALID_FIELD")
        if alias is None:
            alias, implied = f"expr{implied}", implied + 1
        if any(a.alias.lower() == alias.lower() for a in out):
            fail(index, f"duplicate alias: {alias}", "MALFORMED_QUERY")
        out.append(Aggregate(func, f, alias))
    return out


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def compute(aggregates: list[Aggregate], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The AggregateResult's values (not yet in JSON form), by alias."""
    out: dict[str, Any] = {}
    for agg in aggregates:
        values = [r.get(agg.field.name) for r in rows]
        present = [v for v in values if v is not None]
        if agg.func == "COUNT":
            out[agg.alias] = len(values if agg.field.name == "Id" else present)
        elif agg.func == "COUNT_DISTINCT":
            out[agg.alias] = len({_fold(v) for v in present})
        elif not present:
            out[agg.alias] = None
        elif agg.func == "MIN":
            out[agg.alias] = min(present, key=_fold)
        elif agg.func == "MAX":
            out[agg.alias] = max(present, key=_fold)
        elif agg.func == "SUM":
            out[agg.alias] = sum(present)
        else:
            out[agg.alias] = sum(present) / len(present)
    return out
