"""The contact property schema: HubSpot's standard properties the sync touches, the
sandbox's custom ones, their definitions as the properties API describes them, and
HubSpot's timestamp format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

#: Lifecycle stages in HubSpot's order; a stage may only move forward along it.
LIFECYCLE: tuple[tuple[str, str], ...] = (
    ("subscriber", "Subscriber"), ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"), ("opportunity", "Opportunity"),
    ("customer", "Customer"), ("evangelist", "Evangelist"), ("other", "Other"),
)
LEAD_STATUS: tuple[tuple[str, str], ...] = (
    ("NEW", "New"), ("OPEN", "Open"), ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"), ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"), ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
)
#: Returned when a read names no properties.
DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                      "lastname")
#: Returned whatever properties a read names.
ALWAYS = ("createdate", "hs_object_id", "lastmodifieddate")
#: Set by HubSpot itself: a write naming one is refused.
COMPUTED = ("createdate", "lastmodifieddate", "hs_object_id", "hs_merged_object_ids",
            "hs_additional_emails")

DEFAULT_CUSTOM: dict[str, dict[str, Any]] = {
    "nexadesk_source": {"type": "string", "fieldType": "text", "label": "NexaDesk source"},
    "nexadesk_amount": {"type": "number", "fieldType": "number",
                        "label": "NexaDesk expected billing amount"},
    "nexadesk_tags": {"type": "string", "fieldType": "text", "label": "NexaDesk tags"},
}


@dataclass(frozen=True)
class Prop:
    name: str
    label: str
    type: str = "string"  # string | number | enumeration | datetime | date | bool
    field_type: str = "text"
    group: str = "contactinformation"
    options: tuple[tuple[str, str], ...] = ()
    read_only: bool = False
    calculated: bool = False
    hubspot_defined: bool = True
    unique: bool = False
    external_options: bool = False
    referenced_object: str | None = None
    description: str = ""

    @property
    def multi(self) -> bool:
        return self.type == "enumeration" and self.field_type == "checkbox"

    def describe(self, created: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {
            "updatedAt": ts(created), "createdAt": ts(created), "name": self.name,
            "label": self.label, "type": self.type, "fieldType": self.field_type,
            "description": self.description, "groupName": self.group,
            "options": [{"label": label, "value": value, "displayOrder": i, "hidden": False}
                        for i, (value, label) in enumerate(self.options)],
            "displayOrder": -1, "calculated": self.calculated,
            "externalOptions": self.external_options, "hasUniqueValue": self.unique,
            "hidden": False, "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {"archivable": not self.hubspot_defined,
                                     "readOnlyDefinition": self.hubspot_defined,
                                     "readOnlyValue": self.read_only},
            "formField": not self.read_only, "archived": False,
        }
        if self.referenced_object:
            out["referencedObjectType"] = self.referenced_object
        return out


STANDARD: tuple[Prop, ...] = (
    Prop("firstname", "First Name"),
    Prop("lastname", "Last Name"),
    Prop("email", "Email", unique=True, description="A contact's email address"),
    Prop("phone", "Phone Number", field_type="phonenumber"),
    Prop("company", "Company Name"),
    Prop("message", "Message", field_type="textarea"),
    Prop("hs_lead_status", "Lead Status", "enumeration", "radio", group="sales_properties",
         options=LEAD_STATUS),
    Prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=LIFECYCLE),
    Prop("hubspot_owner_id", "Contact owner", "enumeration", "select",
         group="sales_properties", external_options=True, referenced_object="OWNER"),
    Prop("createdate", "Create Date", "datetime", "date", read_only=True),
    Prop("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    Prop("hs_object_id", "Record ID", "number", "number", read_only=True, unique=True),
    Prop("hs_merged_object_ids", "Merged Contact IDs", "enumeration", "checkbox",
         read_only=True, calculated=True),
    Prop("hs_additional_emails", "Additional email addresses", "enumeration", "checkbox",
         read_only=True, calculated=True),
)


def custom_prop(name: str, spec: dict[str, Any]) -> Prop:
    options = tuple(
        (o, o) if isinstance(o, str) else (str(o["value"]), str(o.get("label", o["value"])))
        for o in spec.get("options", ()))
    kind = spec.get("type", "string")
    default_field = {"number": "number", "enumeration": "select", "bool": "booleancheckbox",
                     "datetime": "date", "date": "date"}.get(kind, "text")
    # A calculation property: HubSpot computes its value and refuses writes to it.
    calculated = bool(spec.get("calculated", False))
    return Prop(name, spec.get("label", name), kind, spec.get("fieldType", default_field),
                group=spec.get("groupName", "nexadesk"), options=options,
                read_only=calculated or bool(spec.get("readOnlyValue", False)),
                calculated=calculated, hubspot_defined=False,
                description=spec.get("description", ""))


def contact_props(custom: dict[str, dict[str, Any]] | None) -> dict[str, Prop]:
    specs = DEFAULT_CUSTOM if custom is None else custom
    props = {p.name: p for p in STANDARD}
    props.update((name, custom_prop(name, spec)) for name, spec in specs.items())
    return props


def lifecycle_rank(value: str | None) -> int:
    order = [v for v, _ in LIFECYCLE]
    return order.index(value) if value in order else -1


# -- time -----------------------------------------------------------------------------
def ms(value: datetime) -> datetime:
    """A UTC datetime cut to HubSpot's millisecond precision."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def ts(value: datetime) -> str:
    """As HubSpot prints an instant: milliseconds, dropped when they are zero."""
    value = ms(value)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + "Z"


def parse_instant(value: Any) -> datetime | None:
    """Epoch milliseconds (number or digits) or an ISO 8601 instant or date; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ms(parsed)
