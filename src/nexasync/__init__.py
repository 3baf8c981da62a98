"""nexasync: bidirectional lead sync between NexaDesk and a CRM.

The public surface is re-exported here; modules starting with ``_`` are internal.
"""

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
