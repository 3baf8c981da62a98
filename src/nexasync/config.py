"""Configuration: YAML with ``${VAR}`` interpolation, validated by pydantic on load.

A bad file fails before anything is touched, with an error that names the key,
the value and what is wrong. Secrets are ``SecretStr`` so they never print, and
can come from the environment (``${VAR}``) or from a file (``*_file`` keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from nexasync._config_base import (
    ConfigError,
    HttpOptions,
    _lead_fields,
    _Model,
    _read_secret,
)
from nexasync._config_hubspot import DEFAULT_HS_FIELDS, HubSpotConfig
from nexasync._config_salesforce import (
    DEFAULT_SF_FIELDS,
    DEFAULT_SF_STAGE_MAP,
    DEFAULT_SF_STAGE_MAP_BACK,
    SalesforceAuth,
    SalesforceConfig,
)

__all__ = [
    "DEFAULT_HS_FIELDS",
    "DEFAULT_SF_FIELDS",
    "DEFAULT_SF_STAGE_MAP",
    "DEFAULT_SF_STAGE_MAP_BACK",
    "Config",
    "ConfigError",
    "DeleteConfig",
    "HttpOptions",
    "HubSpotConfig",
    "NexaDeskConfig",
    "PairConfig",
    "SalesforceAuth",
    "SalesforceConfig",
    "ServiceConfig",
    "StateConfig",
    "load_config",
    "parse_config",
]

SyncRule = Literal[
    "two-way",
    "prefer-nexadesk-unless-blank",
    "prefer-crm-unless-blank",
    "always-nexadesk",
    "always-crm",
    "none",
]
DeletePolicy = Literal["propagate", "ignore", "mark_lost"]


class NexaDeskConfig(HttpOptions):
    base_url: str = "https://chats.nexadesk.ai"
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    #: Re-read changes this many seconds older than the watermark (clock skew, late commits).
    overlap_seconds: int = Field(300, ge=0)
    #: Parallel requests for writes (NexaDesk has no batch endpoint).
    concurrency: int = Field(4, ge=1, le=64)
    #: Requests started per second at most, all threads together: keeps to the
    #: account's rate limit instead of being refused (429) and retrying. None: unpaced.
    max_requests_per_second: float | None = Field(None, gt=0)
    #: Fields that may be shortened to NexaDesk's limits instead of failing the record.
    truncate: list[str] = Field(
        default_factory=lambda: ["visitor_name", "visitor_company", "need_summary", "source"]
    )

    @model_validator(mode="after")
    def _secret(self) -> NexaDeskConfig:
        key = _read_secret(self.api_key, self.api_key_file, "api_key")
        if key is None:
            raise ValueError("api_key (or api_key_file) is required")
        object.__setattr__(self, "api_key", key)
        return self

    @field_validator("truncate")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        return _lead_fields(value)


class DeleteConfig(_Model):
    nexadesk_to_crm: DeletePolicy = "propagate"
    crm_to_nexadesk: DeletePolicy = "propagate"
    #: Refuse to delete more than this share of a pair's links in one cycle...
    max_ratio: float = Field(0.10, ge=0, le=1)
    #: ...unless it is no more than this many records.
    max_unguarded: int = Field(1, ge=0)


def _crm_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "salesforce"))
    return str(getattr(value, "type", "salesforce"))


class PairConfig(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    nexadesk: NexaDeskConfig
    #: The CRM side; ``type`` picks the kind (salesforce when omitted).
    crm: Annotated[
        Annotated[SalesforceConfig, Tag("salesforce")] | Annotated[HubSpotConfig, Tag("hubspot")],
        Discriminator(_crm_type),
    ]
    #: canonical field -> sync rule; fields not named are two-way.
    rules: dict[str, SyncRule] = Field(default_factory=dict)
    deletes: DeleteConfig = Field(default_factory=DeleteConfig)
    interval_seconds: int = Field(300, ge=10)

    @field_validator("rules")
    @classmethod
    def _rule_fields(cls, value: dict[str, str]) -> dict[str, str]:
        _lead_fields(list(value))
        return value

    def rule(self, field: str) -> SyncRule:
        return self.rules.get(field, "two-way")


class StateConfig(_Model):
    #: May carry a database password: checked on load, never echoed, masked in repr.
    url: str = "sqlite:///nexasync.db"
    #: Runs, events and resolved record errors older than this are deleted after each
    #: cycle, so a long-running service's store does not grow without end.
    keep_history_days: int = Field(30, ge=1)

    @field_validator("url")
    @classmethod
    def _usable(cls, value: str) -> str:
        from nexasync.store._engine import StoreUrlError, parse_url

        try:
            parse_url(value)
        except StoreUrlError as exc:
            raise ValueError(str(exc)) from None
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        from sqlalchemy.engine import make_url

        yield "url", make_url(self.url).render_as_string(hide_password=True)


class ServiceConfig(_Model):
    """How ``nexasync run`` behaves as a long-running service."""

    #: host:port of the /healthz, /readyz and /metrics endpoint; empty turns it off.
    #: Loopback by default: set 0.0.0.0:9464 in a container so probes can reach it.
    listen: str = "127.0.0.1:9464"
    #: /readyz fails once a pair's last successful cycle is older than this many of
    #: its intervals (or it has none since the service started that long ago).
    ready_factor: float = Field(3.0, ge=1)
    #: Each run of a pair starts up to this many seconds late, at random, so many
    #: pairs (or replicas) do not hit the same APIs in the same second.
    jitter_seconds: int = Field(10, ge=0)
    #: On SIGTERM/SIGINT the running cycle finishes its current batch; after this
    #: many seconds the process exits anyway (the next start recovers).
    stop_timeout_seconds: float = Field(60.0, gt=0)
    #: Off a terminal, a long cycle logs a progress line this often.
    progress_seconds: float = Field(30.0, gt=0)

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        if value == "":
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:9464), or empty for off")
        return value

    def address(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class Config(_Model):
    state: StateConfig = Field(default_factory=StateConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    pairs: list[PairConfig] = Field(min_length=1)

    @field_validator("pairs")
    @classmethod
    def _unique(cls, value: list[PairConfig]) -> list[PairConfig]:
        names = [p.name for p in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pair names must be unique; repeated: {', '.join(dupes)}")
        return value

    def pair(self, name: str) -> PairConfig:
        for pair in self.pairs:
            if pair.name == name:
                return pair
        raise ConfigError(f"no pair named {name!r} (have: {', '.join(p.name for p in self.pairs)})")


def parse_config(data: Any, env: dict[str, str] | None = None) -> Config:
    """Validate config data (as read from YAML); ``env`` defaults to the environment."""
    from nexasync._config_load import parse

    return parse(data, env)


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    """Read and validate a YAML config file; raises :class:`ConfigError`."""
    from nexasync._config_load import load

    return load(path, env)
