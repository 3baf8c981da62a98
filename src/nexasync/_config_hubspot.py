"""The HubSpot section of a pair: private-app token, endpoint and the contact mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from nexasync._config_base import CrmOptions, _read_secret
from nexasync.lead import FIELDS, STAGES

#: canonical field -> contact property (None: not synced). visitor_name always maps to
#: firstname/lastname; pipeline_stage to ``stage_property``.
DEFAULT_HS_FIELDS: dict[str, str | None] = {
    "visitor_email": "email",
    "visitor_phone": "phone",
    "visitor_company": "company",
    "need_summary": "message",
    "source": None,
    "expected_billing_amount": None,
    "tags": None,
    "assigned_rep_id": "hubspot_owner_id",
}

#: NexaDesk stage -> hs_lead_status (the default lead status options). Many-to-one.
DEFAULT_HS_LEAD_STATUS_MAP: dict[str, str] = {
    "new": "NEW",
    "qualified": "OPEN",
    "assigned": "OPEN",
    "contacted": "CONNECTED",
    "converted": "OPEN_DEAL",
    "lost": "UNQUALIFIED",
}
DEFAULT_HS_LEAD_STATUS_BACK: dict[str, str] = {
    "NEW": "new",
    "OPEN": "qualified",
    "IN_PROGRESS": "contacted",
    "ATTEMPTED_TO_CONTACT": "contacted",
    "CONNECTED": "contacted",
    "OPEN_DEAL": "converted",
    "UNQUALIFIED": "lost",
    "BAD_TIMING": "lost",
}

#: NexaDesk stage -> lifecyclestage (the default stages, in HubSpot's order).
DEFAULT_HS_LIFECYCLE_MAP: dict[str, str] = {
    "new": "lead",
    "qualified": "marketingqualifiedlead",
    "assigned": "salesqualifiedlead",
    "contacted": "salesqualifiedlead",
    "converted": "customer",
    "lost": "other",
}
DEFAULT_HS_LIFECYCLE_BACK: dict[str, str] = {
    "subscriber": "new",
    "lead": "new",
    "marketingqualifiedlead": "qualified",
    "salesqualifiedlead": "contacted",
    "opportunity": "contacted",
    "customer": "converted",
    "evangelist": "converted",
    "other": "lost",
}


class HubSpotConfig(CrmOptions):
    type: Literal["hubspot"]
    base_url: str = "https://api.hubapi.com"
    #: A private app's access token (scopes: crm.objects.contacts.read/write,
    #: crm.objects.owners.read).
    access_token: SecretStr | None = None
    access_token_file: Path | None = None
    #: The CRM object synced: "contacts" by default (or a custom object's type id).
    object_type: str = "contacts"
    #: Search requests per second (HubSpot allows about 5 per account).
    search_rate: float = Field(4.0, gt=0, le=5)
    #: Which property holds the stage: hs_lead_status or lifecyclestage.
    stage_property: Literal["hs_lead_status", "lifecyclestage"] = "hs_lead_status"
    fields: dict[str, str | None] = Field(default_factory=lambda: dict(DEFAULT_HS_FIELDS))
    #: NexaDesk stage -> stage property value; default depends on stage_property.
    stage_map: dict[str, str] | None = None
    #: stage property value -> NexaDesk stage for the way back.
    stage_map_back: dict[str, str] | None = None
    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        merged = dict(DEFAULT_HS_FIELDS)
        for name, target in value.items():
            if name in ("visitor_name", "pipeline_stage"):
                raise ValueError(
                    f"{name!r} has a fixed mapping (firstname/lastname, stage_property)"
                )
            if name not in FIELDS:
                raise ValueError(
                    f"{name!r} is not a lead field (one of {', '.join(DEFAULT_HS_FIELDS)})"
                )
            merged[name] = target
        return merged

    @model_validator(mode="after")
    def _resolve(self) -> HubSpotConfig:
        token = _read_secret(self.access_token, self.access_token_file, "access_token")
        if token is None:
            raise ValueError("access_token (or access_token_file) is required")
        object.__setattr__(self, "access_token", token)
        lifecycle = self.stage_property == "lifecyclestage"
        forward = dict(DEFAULT_HS_LIFECYCLE_MAP if lifecycle else DEFAULT_HS_LEAD_STATUS_MAP)
        back = dict(DEFAULT_HS_LIFECYCLE_BACK if lifecycle else DEFAULT_HS_LEAD_STATUS_BACK)
        for stage, value in (self.stage_map or {}).items():
            if stage not in STAGES:
                raise ValueError(f"stage_map: {stage!r} is not a NexaDesk stage")
            forward[stage] = value
            back.setdefault(value, stage)
        for value, stage in (self.stage_map_back or {}).items():
            if stage not in STAGES:
                raise ValueError(f"stage_map_back.{value}: {stage!r} is not a NexaDesk stage")
            back[value] = stage
        object.__setattr__(self, "stage_map", forward)
        object.__setattr__(self, "stage_map_back", back)
        return self
