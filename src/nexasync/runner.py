"""Running pairs: build each pair's connectors from config and run its cycle.

The one place that knows which connector class serves which config section, so
adding a CRM means a connector module plus one entry in :data:`CRM_CONNECTORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import structlog
from pydantic import BaseModel, SecretStr

from nexasync.config import Config, PairConfig
from nexasync.connectors.base import Connector
from nexasync.engine.cycle import CycleResult, run_cycle
from nexasync.engine.plan import Side
from nexasync.logs import register_secrets
from nexasync.store.store import StateStore


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


def sync_once(
    config: Config, store: StateStore, *, pair: str | None = None, dry_run: bool = False
) -> list[PairOutcome]:
    """One cycle of each selected pair. A pair that fails does not stop the others."""
    pairs = [config.pair(pair)] if pair else list(config.pairs)
    outcomes: list[PairOutcome] = []
    for pair_config in pairs:
        log = structlog.get_logger("nexasync").bind(pair=pair_config.name)
        connectors: dict[Side, Connector] = {}
        try:
            connectors = build_connectors(pair_config)
            result = run_cycle(pair_config, store, connectors, dry_run=dry_run)
            outcomes.append(PairOutcome(pair_config.name, result))
        except Exception as exc:  # reported per pair; the exit code says it failed
            log.error("pair failed", error=f"{type(exc).__name__}: {exc}")
            outcomes.append(PairOutcome(pair_config.name, None, f"{type(exc).__name__}: {exc}"))
        finally:
            for connector in connectors.values():
                connector.close()
    return outcomes
