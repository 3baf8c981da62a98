"""nexasync: bidirectional lead sync between NexaDesk and a CRM.

The public surface is re-exported here; modules starting with ``_`` are internal.
Names load on first use (PEP 562): the command line would otherwise import the
whole engine, store and SQLAlchemy before it can print ``--help``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nexasync.config import Config, ConfigError, PairConfig, load_config, parse_config
    from nexasync.connectors.base import (
        Connector,
        CreateItem,
        Cursor,
        KnownIds,
        Pull,
        Record,
        UpdateItem,
        WriteResult,
    )
    from nexasync.engine.cycle import CycleResult, run_cycle
    from nexasync.engine.plan import Item, Plan, Write
    from nexasync.lead import FIELDS, STAGES, Lead
    from nexasync.runner import build_connectors, sync_once
    from nexasync.store.store import StateStore

_EXPORTS = {
    "nexasync.config": ("Config", "ConfigError", "PairConfig", "load_config", "parse_config"),
    "nexasync.connectors.base": (
        "Connector", "CreateItem", "Cursor", "KnownIds", "Pull", "Record", "UpdateItem",
        "WriteResult",
    ),
    "nexasync.engine.cycle": ("CycleResult", "run_cycle"),
    "nexasync.engine.plan": ("Item", "Plan", "Write"),
    "nexasync.lead": ("FIELDS", "STAGES", "Lead"),
    "nexasync.runner": ("build_connectors", "sync_once"),
    "nexasync.store.store": ("StateStore",),
}  # fmt: skip
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "FIELDS",
    "STAGES",
    "Config",
    "ConfigError",
    "Connector",
    "CreateItem",
    "Cursor",
    "CycleResult",
    "Item",
    "KnownIds",
    "Lead",
    "PairConfig",
    "Plan",
    "Pull",
    "Record",
    "StateStore",
    "UpdateItem",
    "Write",
    "WriteResult",
    "build_connectors",
    "load_config",
    "parse_config",
    "run_cycle",
    "sync_once",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'nexasync' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
