"""Lower bounds: the fewest requests the APIs allow for a cycle's work, and the least
wall time those requests need at a given latency and the tool's configured concurrency.

Requests (per system; authentication is not counted, it is once per process):
    reads    NexaDesk    max(1, ceil(read / 100))     list page: 100 leads
             Salesforce  max(1, ceil(read / 2000))    queryAll / queryMore page: 2000
             HubSpot     max(1, ceil(read / 200))     search page: 200
    writes   NexaDesk    creates + updates + deletes  no batch endpoint: one per lead
             Salesforce  sum over op of ceil(n / 200) sObject Collections: 200 a request
             HubSpot     sum over op of ceil(n / 100) batch create/update/archive: 100

``read`` is the number of records the cycle has to look at on that side: every record
on a first sync, the records changed since the last cycle otherwise (nothing: one page
still has to be asked for, to learn that).

Wall time: reads of both systems may overlap, writes wait for both reads (a match needs
both sides), writes of both systems may overlap, NexaDesk writes run ``concurrency`` at a
time, CRM batches one at a time::

    latency * (max(nd_pages, crm_pages) + max(ceil(nd_writes / concurrency), crm_batches))

For HubSpot the configured rates also bound it: search pages at ``search_rate`` per second
after the first, and batches beyond the rolling window's 190 at 19 per second. The
bound is the larger of the two.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

ND_PAGE = 100
READ_PAGE = {"salesforce": 2000, "hubspot": 200}
WRITE_BATCH = {"salesforce": 200, "hubspot": 100}
HS_WINDOW_REQUESTS, HS_WINDOW_SECONDS = 190, 10.0
OPS = ("created", "updated", "deleted")


@dataclass
class Work:
    """What a cycle must do: records read on each side, records written to each side."""

    nd_read: int
    crm_read: int
    nd_writes: dict[str, int]
    crm_writes: dict[str, int]


@dataclass
class Bound:
    nexadesk: int
    crm: int
    nd_reads: int
    crm_reads: int
    nd_writes: int
    crm_writes: int
    latency_seconds: float
    rate_seconds: float
    wall_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def lower_bound(
    crm: str,
    work: Work,
    *,
    latency: float,
    concurrency: int,
    search_rate: float = 4.0,
    nd_rate_limit: float | None = None,
) -> Bound:
    nd_reads = pages(work.nd_read, ND_PAGE)
    crm_reads = pages(work.crm_read, READ_PAGE[crm])
    nd_writes = sum(work.nd_writes.get(op, 0) for op in OPS)
    crm_writes = sum(math.ceil(work.crm_writes.get(op, 0) / WRITE_BATCH[crm]) for op in OPS)
    rounds = max(nd_reads, crm_reads) + max(math.ceil(nd_writes / concurrency), crm_writes)
    rate = 0.0
    if crm == "hubspot":
        searching = (crm_reads - 1) / search_rate
        beyond = max(0, crm_writes - HS_WINDOW_REQUESTS)
        rate = max(searching, beyond * HS_WINDOW_SECONDS / HS_WINDOW_REQUESTS)
    if nd_rate_limit:
        # NexaDesk's limit allows this many requests a second, however many threads.
        rate = max(rate, (nd_reads + nd_writes - 1) / nd_rate_limit)
    wall = max(latency * rounds, rate)
    return Bound(
        nexadesk=nd_reads + nd_writes,
        crm=crm_reads + crm_writes,
        nd_reads=nd_reads,
        crm_reads=crm_reads,
        nd_writes=nd_writes,
        crm_writes=crm_writes,
        latency_seconds=latency * rounds,
        rate_seconds=rate,
        wall_seconds=wall,
    )


def ratio(measured: float, bound: float) -> float | None:
    """measured / bound; None when the bound is zero (nothing to compare with)."""
    return measured / bound if bound else None


def within_target(measured: int, bound: int) -> bool:
    """The issue's target for request counts: within 5% of the bound, plus one."""
    return measured <= bound * 1.05 + 1
