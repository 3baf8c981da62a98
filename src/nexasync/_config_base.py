"""What every config section shares: the base model, secrets, field checks."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from nexasync.lead import FIELDS


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


class CrmOptions(HttpOptions):
    """What every CRM section has besides its own endpoint, auth and field names."""

    overlap_seconds: int = Field(300, ge=0)
    #: NexaDesk rep id -> CRM user (Salesforce user, HubSpot owner) id.
    rep_map: dict[str, str] = Field(default_factory=dict)
    #: Also match reps by email (NexaDesk rep_email <-> the CRM user's email).
    rep_by_email: bool = True
    #: Fields that may be shortened to the CRM's limits instead of failing the record.
    truncate: list[str] = Field(
        default_factory=lambda: ["visitor_name", "visitor_company", "need_summary", "source"]
    )

    @field_validator("truncate")
    @classmethod
    def _truncatable(cls, value: list[str]) -> list[str]:
        return _lead_fields(value)
