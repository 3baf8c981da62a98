"""Running pairs: build each pair's connectors from config and run its cycle.

The one place that knows which connector class serves which config section, so
adding a CRM means a connector module plus one entry in :data:`CRM_CONNECTORS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import structlog
from pydantic import BaseModel, SecretStr

from nexasync import metrics
from nexasync.config import Config, PairConfig
from nexasync.connectors.base import Connector
from nexasync.engine.cycle import CycleResult, run_cycle
from nexasync.engine.plan import Side
from nexasync.engine.progress import Progress, progress_for
from nexasync.logs import register_secrets
from nexasync.store.store import PairLocked, StateStore


def _salesforce(pair: PairConfig) -> Connector:
    from nexasync.connectors.salesforce import SalesforceConnector

    return SalesforceConnector(pair.crm)


def _hubspot(pair: PairConfig) -> Connector:
    from nexasync.connectors.hubspot import HubSpotConnector

    return HubSpotConnector(pair.crm)  # type: ignore[arg-type]


CRM_CONNECTORS: dict[str, Callable[[PairConfig], Connector]] = {
    "salesforce": _salesforce,
    "hubspot": _hubspot,
}


def _secrets(node: object) -> Iterator[str]:
    """Every secret value in a config section, however deeply nested."""
    if isinstance(node, SecretStr):
        yield node.get_secret_value()
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _secrets(getattr(node, name))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _secrets(item)


def register_config_secrets(config: Config) -> None:
    """Scrub every credential of ``config`` from all output from now on, the state
    store URL's password included (SQLAlchemy masks it, but a driver's message may not)."""
    from sqlalchemy.engine import make_url

    register_secrets(_secrets(config))
    register_secrets([make_url(config.state.url).password])  # type: ignore[list-item]


def build_connectors(pair: PairConfig) -> dict[Side, Connector]:
    from nexasync.connectors.nexadesk import NexaDeskConnector

    register_secrets(_secrets(pair))
    return {
        "nexadesk": NexaDeskConnector(pair.nexadesk),
        "crm": CRM_CONNECTORS[pair.crm.type](pair),
    }


@dataclass
class PairOutcome:
    pair: str
    result: CycleResult | None
    error: str | None = None
    #: Why the pair did not run at all (another process holds it).
    skipped: str | None = None
    #: Wall time of the cycle, for the metrics.
    seconds: float = 0.0


def run_pair(
    pair_config: PairConfig,
    store: StateStore,
    *,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    keep_history_days: int | None = None,
) -> PairOutcome:
    """One cycle of one pair under its lock. Never raises: a failure is the outcome.
    With ``keep_history_days``, history older than that is pruned after the cycle."""
    name = pair_config.name
    log = structlog.get_logger("nexasync").bind(pair=name)
    started = time.monotonic()
    connectors: dict[Side, Connector] = {}
    try:
        # A dry run writes nothing, so it may look while another process syncs.
        with nullcontext() if dry_run else store.pair_lock(name):
            try:
                connectors = build_connectors(pair_config)
                result = run_cycle(
                    pair_config, store, connectors, dry_run=dry_run, stop=stop, progress=progress
                )
                if keep_history_days is not None and not dry_run:
                    cutoff = datetime.now(timezone.utc) - timedelta(days=keep_history_days)
                    store.prune_history(cutoff)
            finally:
                for connector in connectors.values():
                    connector.close()
        outcome = PairOutcome(name, result)
    except PairLocked as exc:
        log.warning("pair skipped", reason=str(exc))
        outcome = PairOutcome(name, None, skipped=str(exc))
    except Exception as exc:  # reported per pair; the exit code says it failed
        log.error("pair failed", error=f"{type(exc).__name__}: {exc}")
        outcome = PairOutcome(name, None, f"{type(exc).__name__}: {exc}")
    outcome.seconds = time.monotonic() - started
    if outcome.skipped is None and not dry_run:
        metrics.observe_cycle(name, outcome.result, outcome.seconds)
    return outcome


def sync_once(
    config: Config,
    store: StateStore,
    *,
    pair: str | None = None,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    interactive: bool = False,
) -> list[PairOutcome]:
    """One cycle of each selected pair. A pair that fails does not stop the others;
    after a stop request the pairs not yet started are left for the next run."""
    pairs = [config.pair(pair)] if pair else list(config.pairs)
    stop = stop or threading.Event()
    outcomes: list[PairOutcome] = []
    for pair_config in pairs:
        if stop.is_set():
            break
        progress = progress_for(
            pair_config.name, interactive=interactive, every=config.service.progress_seconds
        )
        outcomes.append(run_pair(pair_config, store, dry_run=dry_run, stop=stop, progress=progress))
    return outcomes
