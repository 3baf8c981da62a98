"""The NexaDesk emulator's list orders, kept sorted as leads are written.

Sorting the whole table on every list request made a page cost O(n log n): at 100,000
leads that dwarfed the latency the benchmarks add per request. Each order a client asks
for is built once (on its first list) and then kept up to date on every write, so an
unfiltered page is found by position, O(page + log n). (A filtered list still sorts
its matches: a search matches few, and the sync never filters by stage.)

An order is a list of ``(sort key, id)`` ascending. The API's descending orders still
break ties by id *ascending* (the stable sort the emulator has always answered with), so
a descending page walks the list from its end, one group of equal keys at a time, and
reads each group forwards.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping
from typing import Any

from nexasync.sandbox._nexadesk_rules import sort_key

Lead = Mapping[str, Any]


def _value(entry: tuple[Any, str]) -> Any:
    return entry[0]


class ListOrders:
    """Lead ids in each sort field's order; built lazily, maintained on writes."""

    def __init__(self, leads: Mapping[str, Lead]) -> None:
        #: The emulator's table (by id), read when an order is first built.
        self._leads = leads
        self._orders: dict[str, list[tuple[Any, str]]] = {}

    def clear(self) -> None:
        self._orders.clear()

    def add(self, lead: Lead) -> None:
        for field, order in list(self._orders.items()):
            try:
                insort(order, (sort_key(field, lead), lead["id"]))
            except TypeError:
                # A planted value that does not compare with the others: forget the
                # order, so the next list rebuilds it and fails as a full sort would.
                del self._orders[field]

    def remove(self, lead: Lead) -> None:
        """Call before a lead's sort fields change or it goes away."""
        for field, order in list(self._orders.items()):
            entry = (sort_key(field, lead), lead["id"])
            try:
                i = bisect_left(order, entry)
            except TypeError:
                i = len(order)
            if i < len(order) and order[i] == entry:
                del order[i]
            else:  # not where it should be: rebuild on the next list
                del self._orders[field]

    def _order(self, field: str) -> list[tuple[Any, str]]:
        order = self._orders.get(field)
        if order is None:
            order = sorted((sort_key(field, lead), lead["id"]) for lead in self._leads.values())
            self._orders[field] = order
        return order

    def page(self, field: str, desc: bool, offset: int, limit: int) -> list[str]:
        """Ids at positions ``offset`` .. ``offset + limit`` of the requested order."""
        order = self._order(field)
        if not desc:
            return [i for _, i in order[offset : offset + limit]]
        out: list[str] = []
        n = len(order)
        for k in range(offset, min(n, offset + limit)):
            out.append(self._desc_at(order, n - 1 - k))
        return out

    @staticmethod
    def _desc_at(order: list[tuple[Any, str]], j: int) -> str:
        """The id at descending position ``len - 1 - j``: position ``j`` counted from the
        end, mirrored inside its group of equal keys so ties stay in id order."""
        value = order[j][0]
        start = bisect_left(order, value, hi=j, key=_value)
        end = bisect_right(order, value, lo=j, key=_value)
        return order[start + (end - 1 - j)][1]
