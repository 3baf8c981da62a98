"""Evaluating a parsed SOQL query (see :mod:`._sf_soql`) over rows of field values:
filter, order (nulls first ascending, last descending, unless NULLS says), slice."""

from __future__ import annotations

from typing import Any

from nexasync.sandbox._sf_soql import Query


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(value: Any, op: str, lit: Any) -> bool:
    if lit is None or value is None:
        same = value is None and lit is None
        return same if op == "=" else (not same if op == "!=" else False)
    a, b = _fold(value), _fold(lit)
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def matches(node: Any, row: dict[str, Any]) -> bool:
    if node is None:
        return True
    kind = node[0]
    if kind == "and":
        return all(matches(n, row) for n in node[1])
    if kind == "or":
        return any(matches(n, row) for n in node[1])
    if kind == "not":
        return not matches(node[1], row)
    value = row.get(node[1].name)
    if kind == "cmp":
        return _compare(value, node[2], node[3])
    if kind == "like":
        return value is not None and node[2].fullmatch(value) is not None
    hit = any(_compare(value, "=", lit) for lit in node[2])
    return hit != node[3]


def run(query: Query, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The matching rows, ordered and sliced (not yet projected)."""
    hits = [r for r in rows if matches(query.where, r)]
    for f, desc, nulls_first in reversed(query.order):
        none_rank = 0 if nulls_first != desc else 2

        def key(r: dict[str, Any], name: str = f.name, rank: int = none_rank) -> tuple[int, Any]:
            v = r.get(name)
            return (rank, 0) if v is None else (1, _fold(v))

        hits.sort(key=key, reverse=desc)
    end = None if query.limit is None else query.offset + query.limit
    return hits[query.offset:end]
