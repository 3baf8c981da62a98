"""Helpers of the service tests: scraping ``/metrics`` over HTTP and comparing scrapes.

The metrics registry is process-wide, so tests compare two scrapes (a delta), and
each test syncs a pair of its own name.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Mapping
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from nexasync.config import Config, parse_config
from nexasync.sandbox import Sandbox

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

_names = itertools.count(1)


def unique_pair() -> str:
    return f"svc{next(_names)}"


def scrape(base_url: str) -> Samples:
    """Every sample of ``/metrics``, parsed as Prometheus would."""
    response = httpx.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def has_series(samples: Samples, name: str, **labels: str) -> bool:
    return (name, frozenset(labels.items())) in samples


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def deltas_by(
    before: Samples, after: Samples, name: str, key: str, **labels: str
) -> dict[str, float]:
    """label ``key`` -> growth of the series of ``name`` with ``labels``, where it grew."""
    want = set(labels.items())
    out: dict[str, float] = {}
    for (n, ls), v in after.items():
        if n != name or not want <= ls:
            continue
        grown = v - before.get((n, ls), 0.0)
        if grown:
            label = dict(ls)[key]
            out[label] = out.get(label, 0.0) + grown
    return out


def pair_config(sandbox: Sandbox, state_url: str, crm_kind: str, name: str, **over: Any) -> Config:
    return parse_config(sandbox.config(state_url, crm_kind=crm_kind, name=name, **over))


def closed_port() -> int:
    """A loopback port nothing listens on: connecting there is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def summary_counts(counts: Mapping[str, Mapping[str, int]]) -> dict[tuple[str, str], int]:
    return {(d, op): n for d, ops in counts.items() for op, n in ops.items() if n}
