"""The Salesforce emulator's object model: Lead and User fields as ``describe``
reports them, record ids, and timestamps in Salesforce's wire format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

TEXT_TYPES = frozenset(
    {"id", "string", "textarea", "email", "phone", "url", "picklist", "reference"}
)
NUMBER_TYPES = frozenset({"currency", "double", "int", "percent"})
SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "datetime": "xsd:dateTime",
    "date": "xsd:date", "currency": "xsd:double", "double": "xsd:double", "percent": "xsd:double",
    "int": "xsd:int",
}

LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted")
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
INDUSTRIES = ("Agriculture", "Banking", "Education", "Finance", "Healthcare", "Manufacturing",
              "Media", "Retail", "Technology", "Other")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    precision: int = 0
    scale: int = 0
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    defaulted: bool = False
    custom: bool = False
    #: A formula field: computed by Salesforce, never createable or updateable.
    calculated: bool = False

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "label": self.label, "type": self.type, "length": self.length,
            "byteLength": self.length * 3, "precision": self.precision, "scale": self.scale,
            "digits": 9 if self.type == "int" else 0,
            "nillable": self.nillable, "createable": self.createable,
            "updateable": self.updateable, "externalId": self.external_id,
            "unique": self.unique, "idLookup": self.name == "Id" or self.external_id,
            "caseSensitive": False, "custom": self.custom, "calculated": self.calculated,
            "defaultedOnCreate": self.defaulted, "filterable": True, "sortable": True,
            "nameField": self.name == "Name", "restrictedPicklist": self.restricted,
            "picklistValues": [
                {"active": True, "defaultValue": i == 0 and self.defaulted, "label": v,
                 "validFor": None, "value": v}
                for i, v in enumerate(self.picklist)
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2] if self.type == "reference" else None,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
        }


def _ro(name: str, type_: str, label: str, **kw: Any) -> Field:
    return Field(name, type_, label, createable=False, updateable=False, **kw)


_AUDIT = (
    _ro("CreatedDate", "datetime", "Created Date", nillable=False, defaulted=True),
    _ro("CreatedById", "reference", "Created By ID", length=18, nillable=False,
        reference_to=("User",), defaulted=True),
    _ro("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, defaulted=True),
    _ro("LastModifiedById", "reference", "Last Modified By ID", length=18, nillable=False,
        reference_to=("User",), defaulted=True),
    _ro("SystemModstamp", "datetime", "System Modstamp", nillable=False, defaulted=True),
)

LEAD_STANDARD: tuple[Field, ...] = (
    _ro("Id", "id", "Lead ID", length=18, nillable=False, defaulted=True),
    _ro("IsDeleted", "boolean", "Deleted", nillable=False, defaulted=True),
    Field("LastName", "string", "Last Name", 80, nillable=False),
    Field("FirstName", "string", "First Name", 40),
    Field("Salutation", "picklist", "Salutation", 40, picklist=("Mr.", "Ms.", "Mrs.", "Dr.")),
    _ro("Name", "string", "Full Name", length=121, nillable=False),
    Field("Title", "string", "Title", 128),
    Field("Company", "string", "Company", 255, nillable=False),
    Field("Street", "textarea", "Street", 255),
    Field("City", "string", "City", 40),
    Field("State", "string", "State/Province", 80),
    Field("PostalCode", "string", "Zip/Postal Code", 20),
    Field("Country", "string", "Country", 80),
    Field("Phone", "phone", "Phone", 40),
    Field("MobilePhone", "phone", "Mobile Phone", 40),
    Field("Email", "email", "Email", 80),
    Field("Website", "url", "Website", 255),
    Field("Description", "textarea", "Description", 32000),
    Field("LeadSource", "picklist", "Lead Source", 255, picklist=LEAD_SOURCES),
    Field("Status", "picklist", "Lead Status", 255, nillable=False, picklist=LEAD_STATUSES,
          restricted=True, defaulted=True),
    Field("Industry", "picklist", "Industry", 255, picklist=INDUSTRIES),
    Field("Rating", "picklist", "Rating", 255, picklist=("Hot", "Warm", "Cold")),
    Field("AnnualRevenue", "currency", "Annual Revenue", precision=18, scale=0),
    Field("NumberOfEmployees", "int", "Employees", precision=8),
    Field("OwnerId", "reference", "Owner ID", 18, nillable=False, reference_to=("User",),
          defaulted=True),
    _ro("IsConverted", "boolean", "Converted", nillable=False, defaulted=True),
    _ro("ConvertedDate", "date", "Converted Date"),
    _ro("ConvertedAccountId", "reference", "Converted Account ID", length=18,
        reference_to=("Account",)),
    _ro("ConvertedContactId", "reference", "Converted Contact ID", length=18,
        reference_to=("Contact",)),
    _ro("ConvertedOpportunityId", "reference", "Converted Opportunity ID", length=18,
        reference_to=("Opportunity",)),
    Field("IsUnreadByOwner", "boolean", "Unread By Owner", nillable=False, defaulted=True),
    *_AUDIT,
)

USER_FIELDS: tuple[Field, ...] = (
    _ro("Id", "id", "User ID", length=18, nillable=False, defaulted=True),
    Field("Username", "string", "Username", 80, nillable=False),
    Field("FirstName", "string", "First Name", 40),
    Field("LastName", "string", "Last Name", 80, nillable=False),
    _ro("Name", "string", "Full Name", length=121, nillable=False),
    Field("Email", "email", "Email", 128, nillable=False),
    Field("Alias", "string", "Alias", 8, nillable=False),
    Field("IsActive", "boolean", "Active", nillable=False, defaulted=True),
    *_AUDIT,
)

DEFAULT_CUSTOM_FIELDS: dict[str, dict[str, Any]] = {
    "NexaDesk_Id__c": {"type": "string", "length": 64, "externalId": True, "unique": True,
                       "label": "NexaDesk Id"},
    "NexaDesk_Tags__c": {"type": "string", "length": 255, "label": "NexaDesk Tags"},
    "Expected_Amount__c": {"type": "currency", "precision": 18, "scale": 2,
                           "label": "Expected Amount"},
}


def custom_field(name: str, spec: dict[str, Any]) -> Field:
    if not name.endswith("__c"):
        raise ValueError(f"custom field names end in __c: {name!r}")
    type_ = spec.get("type", "string")
    length = int(spec.get("length", 255 if type_ in TEXT_TYPES else 0))
    # A formula field is read-only; so is a field field-level security makes read-only
    # for the API user (``createable``/``updateable`` false in the spec).
    calculated = bool(spec.get("calculated", False))
    return Field(
        name, type_, spec.get("label", name[:-3].replace("_", " ")), length,
        createable=not calculated and bool(spec.get("createable", True)),
        updateable=not calculated and bool(spec.get("updateable", True)),
        calculated=calculated,
        nillable=True, external_id=bool(spec.get("externalId", False)),
        unique=bool(spec.get("unique", False)), precision=int(spec.get("precision", 0)),
        scale=int(spec.get("scale", 0)), picklist=tuple(spec.get("picklistValues", ())),
        restricted=bool(spec.get("restricted", False)), custom=True,
    )


def lead_fields(custom: dict[str, dict[str, Any]] | None) -> dict[str, Field]:
    specs = DEFAULT_CUSTOM_FIELDS if custom is None else custom
    fields = {f.name: f for f in LEAD_STANDARD}
    fields.update((n, custom_field(n, s)) for n, s in specs.items())
    return fields


def describe_object(name: str, prefix: str, fields: dict[str, Field], base: str,
                    access: dict[str, bool] | None = None) -> dict[str, Any]:
    """``access`` overrides the object permission flags (``deletable``, ``replicateable``
    ...) as a profile without them makes describe report them."""
    writable = name == "Lead"
    flags = {"createable": writable, "updateable": writable, "deletable": writable,
             "queryable": True, "retrieveable": True, "replicateable": True,
             "searchable": True, "undeletable": writable, **(access or {})}
    return {
        "name": name, "label": name, "labelPlural": f"{name}s", "keyPrefix": prefix,
        "custom": False, **flags, "fields": [f.describe() for f in fields.values()],
        "urls": {"sobject": f"{base}/sobjects/{name}",
                 "describe": f"{base}/sobjects/{name}/describe",
                 "rowTemplate": f"{base}/sobjects/{name}/{{ID}}"},
    }


# -- ids ------------------------------------------------------------------------------
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def to18(id15: str) -> str:
    """The case-safe 18-character form: three characters encoding which of the
    15 are upper case, as Salesforce computes it."""
    suffix = ""
    for i in range(3):
        chunk = id15[i * 5 : i * 5 + 5]
        suffix += _SUFFIX[sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")]
    return id15 + suffix


def norm_id(value: Any) -> str | None:
    """The 18-character id for a 15- or 18-character id (the 18-character form is
    case-insensitive: its suffix tells the case), None when it is not one."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 15:
        return to18(value)
    body = list(value[:15])
    for i, ch in enumerate(value[15:].upper()):
        bits = _SUFFIX.find(ch)
        for j in range(5):
            c = body[i * 5 + j]
            body[i * 5 + j] = c.upper() if bits >> j & 1 else c.lower()
    full = to18("".join(body))
    return full if full[15:] == value[15:].upper() else None


def make_id(prefix: str, seq: int) -> str:
    # A large, odd stride spreads sequential ids over mixed-case characters, like real ids.
    n = 0x3A5F_1C20_77 + seq * 0x9E3779B1 + int.from_bytes(prefix.encode(), "big") * 0x2545F491
    body = ""
    while n:
        n, r = divmod(n, 62)
        body = _B62[r] + body
    return to18(f"{prefix}Dn0{body[-9:].rjust(9, '0')}")


# -- time -----------------------------------------------------------------------------
_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$"
)


def ms(dt: datetime) -> datetime:
    """Salesforce keeps milliseconds; a naive time is taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).replace(microsecond=dt.microsecond // 1000 * 1000)


def sf_time(dt: datetime) -> str:
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def parse_time(text: str) -> datetime | None:
    """A dateTime as the API accepts it (Z, +0000 or +00:00; optional fraction)."""
    m = _TIME_RE.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, timezone.utc)
    except ValueError:
        return None
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
        dt = dt - timedelta(minutes=offset)
    return dt


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return sf_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
