"""Configuration: YAML with ``${VAR}`` interpolation, validated by pydantic on load.

A bad file fails before anything is touched, with an error that names the key,
the value and what is wrong. Secrets are ``SecretStr`` so they never print, and
can come from the environment (``${VAR}``) or from a file (``*_file`` keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from nexasync.lead import FIELDS, STAGES

SyncRule = Literal[
    "two-way",
    "prefer-nexadesk-unless-blank",
    "prefer-crm-unless-blank",
    "always-nexadesk",
    "always-crm",
    "none",
]
DeletePolicy = Literal["propagate", "ignore", "mark_lost"]


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _read_secret(value: SecretStr | None, path: Path | None, key: str) -> SecretStr | None:
    # An empty value counts as unset, so `${VAR:-}` can stand beside a *_file key.
    if value is not None and not value.get_secret_value().strip():
        value = None
    if path is None:
        return value
    if value is not None:
        raise ValueError(f"{key} and {key}_file are both set; keep one")
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"{key}_file: cannot read {path}: {exc.strerror}") from None
    if not text:
        raise ValueError(f"{key}_file: {path} is empty")
    return SecretStr(text)


def _lead_fields(names: list[str]) -> list[str]:
    for name in names:
        if name not in FIELDS:
            raise ValueError(f"{name!r} is not a lead field (one of {', '.join(FIELDS)})")
    return names


def _readable(path: Path | None, key: str) -> None:
    """Fail on load, not mid-cycle, when a file the connectors need is not there."""
    if path is None:
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ValueError(f"{key}: cannot read {path}: {exc.strerror}") from None


class HttpOptions(_Model):
    timeout: float = Field(30.0, gt=0, description="seconds per request")
    max_retries: int = Field(5, ge=0, le=20)
    #: PEM bundle of CAs to trust instead of the system ones (private CAs, the sandbox).
    ca_bundle: Path | None = None

    @field_validator("ca_bundle")
    @classmethod
    def _ca_exists(cls, value: Path | None) -> Path | None:
        _readable(value, "ca_bundle")
        return value


class NexaDeskConfig(HttpOptions):
    base_url: str = "https://chats.nexadesk.ai"
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    #: Re-read changes this many seconds older than the watermark (clock skew, late commits).
    overlap_seconds: int = Field(300, ge=0)
    #: Parallel requests for writes (NexaDesk has no batch endpoint).
    concurrency: int = Field(4, ge=1, le=64)
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


class SalesforceAuth(_Model):
    """Whichever flow simple-salesforce supports; the method is inferred when omitted."""

    method: Literal["password", "client_credentials", "jwt", "session"] | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    security_token: SecretStr | None = None
    security_token_file: Path | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    consumer_secret_file: Path | None = None
    private_key_file: Path | None = None
    session_id: SecretStr | None = None
    session_id_file: Path | None = None

    @model_validator(mode="after")
    def _resolve(self) -> SalesforceAuth:
        for key in ("password", "security_token", "consumer_secret", "session_id"):
            value = _read_secret(getattr(self, key), getattr(self, f"{key}_file"), key)
            object.__setattr__(self, key, value)
        _readable(self.private_key_file, "private_key_file")
        method = self.method
        if method is None:
            if self.session_id:
                method = "session"
            elif self.private_key_file:
                method = "jwt"
            elif self.username and self.password:
                method = "password"
            elif self.consumer_key and self.consumer_secret:
                method = "client_credentials"
            else:
                raise ValueError(
                    "no credentials: give username+password(+security_token), "
                    "consumer_key+consumer_secret, username+consumer_key+private_key_file, "
                    "or session_id"
                )
            object.__setattr__(self, "method", method)
        needed = {
            "password": ("username", "password"),
            "client_credentials": ("consumer_key", "consumer_secret"),
            "jwt": ("username", "consumer_key", "private_key_file"),
            "session": ("session_id",),
        }[method]
        missing = [k for k in needed if not getattr(self, k)]
        if missing:
            raise ValueError(f"method {method!r} needs {', '.join(missing)}")
        return self


DEFAULT_SF_FIELDS: dict[str, str | None] = {
    "visitor_email": "Email",
    "visitor_phone": "Phone",
    "visitor_company": "Company",
    "need_summary": "Description",
    "source": "LeadSource",
    "pipeline_stage": "Status",
    "expected_billing_amount": None,
    "tags": None,
    "assigned_rep_id": "OwnerId",
}

#: NexaDesk stage -> the standard Lead Status picklist. Many-to-one on purpose.
DEFAULT_SF_STAGE_MAP: dict[str, str] = {
    "new": "Open - Not Contacted",
    "qualified": "Working - Contacted",
    "assigned": "Open - Not Contacted",
    "contacted": "Working - Contacted",
    "converted": "Closed - Converted",
    "lost": "Closed - Not Converted",
}


#: Lead Status -> NexaDesk stage, for the way back.
DEFAULT_SF_STAGE_MAP_BACK: dict[str, str] = {
    "Open - Not Contacted": "new",
    "Working - Contacted": "contacted",
    "Closed - Converted": "converted",
    "Closed - Not Converted": "lost",
}


class SalesforceConfig(HttpOptions):
    type: Literal["salesforce"] = "salesforce"
    #: Set for session auth, or to skip the instance discovery of a login.
    instance_url: str | None = None
    #: "login", "test" or a My Domain prefix, as simple-salesforce takes it.
    domain: str = "login"
    #: Where login/token requests go instead of https://{domain}.salesforce.com (sandboxes).
    login_url: str | None = None
    api_version: str = "59.0"
    auth: SalesforceAuth
    #: A Lead external-id field holding the NexaDesk id; makes creates idempotent upserts.
    external_id_field: str | None = None
    #: Written when a lead has no company (Company is required); never synced back.
    company_placeholder: str = "[not provided]"
    overlap_seconds: int = Field(300, ge=0)
    #: How often to ask getDeleted for leads removed from the recycle bin (the query
    #: itself sees soft deletes every cycle).
    deleted_check_seconds: int = Field(3600, ge=0)
    #: canonical field -> Lead field (None: not synced). visitor_name always maps to
    #: FirstName/LastName.
    fields: dict[str, str | None] = Field(default_factory=lambda: dict(DEFAULT_SF_FIELDS))
    stage_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SF_STAGE_MAP))
    #: Lead Status -> NexaDesk stage for the way back; derived from stage_map when omitted
    #: (the standard statuses go back to new/contacted/converted/lost, any other status to
    #: the first NexaDesk stage that maps onto it).
    stage_map_back: dict[str, str] | None = None
    #: NexaDesk rep id -> Salesforce user id.
    rep_map: dict[str, str] = Field(default_factory=dict)
    #: Also match reps by email (NexaDesk rep_email <-> User.Email).
    rep_by_email: bool = True
    truncate: list[str] = Field(
        default_factory=lambda: ["visitor_name", "visitor_company", "need_summary", "source"]
    )

    @field_validator("truncate")
    @classmethod
    def _truncatable(cls, value: list[str]) -> list[str]:
        return _lead_fields(value)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        merged = dict(DEFAULT_SF_FIELDS)
        for name, target in value.items():
            if name == "visitor_name":
                raise ValueError("'visitor_name' always maps to FirstName/LastName")
            if name not in FIELDS:
                raise ValueError(
                    f"{name!r} is not a lead field (one of {', '.join(DEFAULT_SF_FIELDS)})"
                )
            merged[name] = target
        return merged

    @field_validator("stage_map")
    @classmethod
    def _stages(cls, value: dict[str, str]) -> dict[str, str]:
        merged = dict(DEFAULT_SF_STAGE_MAP)
        for stage, status in value.items():
            if stage not in STAGES:
                raise ValueError(f"{stage!r} is not a NexaDesk stage ({', '.join(STAGES)})")
            merged[stage] = status
        return merged

    @field_validator("stage_map_back")
    @classmethod
    def _stages_back(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for status, stage in (value or {}).items():
            if stage not in STAGES:
                raise ValueError(
                    f"{status}: {stage!r} is not a NexaDesk stage ({', '.join(STAGES)})"
                )
        return value

    @model_validator(mode="after")
    def _back(self) -> SalesforceConfig:
        back: dict[str, str] = {}
        for stage, status in self.stage_map.items():
            default = DEFAULT_SF_STAGE_MAP_BACK.get(status)
            back.setdefault(
                status, default if self.stage_map.get(default or "") == status else stage
            )
        back.update(self.stage_map_back or {})
        object.__setattr__(self, "stage_map_back", back)
        return self


class DeleteConfig(_Model):
    nexadesk_to_crm: DeletePolicy = "propagate"
    crm_to_nexadesk: DeletePolicy = "propagate"
    #: Refuse to delete more than this share of a pair's links in one cycle...
    max_ratio: float = Field(0.10, ge=0, le=1)
    #: ...unless it is no more than this many records.
    max_unguarded: int = Field(1, ge=0)


class PairConfig(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    nexadesk: NexaDeskConfig
    crm: SalesforceConfig
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


class Config(_Model):
    state: StateConfig = Field(default_factory=StateConfig)
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
