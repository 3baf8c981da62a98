"""The Salesforce section of a pair: auth, endpoints and the Lead mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from nexasync._config_base import CrmOptions, _Model, _read_secret, _readable
from nexasync.lead import FIELDS, STAGES


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


class SalesforceConfig(CrmOptions):
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
