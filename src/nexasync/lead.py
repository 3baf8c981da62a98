"""The canonical lead: the common shape both sides are compared in.

Field names are NexaDesk's, because NexaDesk is the one side every pair has.
Values are normalised so that equal leads compare equal whatever system they
came from: trimmed strings with blanks as ``None``, lower-case emails, numbers
as ``int`` when integral, tags as a sorted tuple without duplicates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

STAGES: tuple[str, ...] = ("new", "qualified", "assigned", "contacted", "converted", "lost")

#: Every canonical field, in a stable order (used for plans, snapshots and output).
FIELDS: tuple[str, ...] = (
    "visitor_name",
    "visitor_email",
    "visitor_phone",
    "visitor_company",
    "pipeline_stage",
    "need_summary",
    "source",
    "expected_billing_amount",
    "tags",
    "assigned_rep_id",
)

Lead = dict[str, Any]
"""A canonical lead: a mapping from some of :data:`FIELDS` to normalised values.

A field absent from the mapping is *unknown* (the connector did not read it);
a field present with ``None`` is *blank*.
"""


def norm_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def norm_email(value: Any) -> str | None:
    text = norm_str(value)
    return text.lower() if text else None


def norm_number(value: Any) -> int | float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"not a finite number: {value!r}")
    # Two decimals is what both CRMs keep for currency; 5000 and 5000.0 are one value.
    number = round(number, 2)
    return int(number) if number.is_integer() else number


def norm_tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(";")
    return tuple(sorted({t.strip() for t in value if t is not None and str(t).strip()}))


def norm_stage(value: Any) -> str | None:
    text = norm_str(value)
    if text is None:
        return None
    text = text.lower()
    if text not in STAGES:
        raise ValueError(f"unknown pipeline stage {value!r}")
    return text


_NORMALISERS = {
    "visitor_email": norm_email,
    "expected_billing_amount": norm_number,
    "tags": norm_tags,
    "pipeline_stage": norm_stage,
}


def normalise_field(name: str, value: Any) -> Any:
    return _NORMALISERS.get(name, norm_str)(value)


def normalise(lead: Mapping[str, Any]) -> Lead:
    """Return ``lead`` in canonical form; unknown field names are an error."""
    out: Lead = {}
    for name, value in lead.items():
        if name not in FIELDS:
            raise KeyError(f"not a canonical lead field: {name!r}")
        out[name] = normalise_field(name, value)
    return out


def is_blank(value: Any) -> bool:
    return value is None or value == () or value == ""


def to_json(lead: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy (tags as lists) for the state store."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in lead.items()}


def from_json(data: Mapping[str, Any] | None) -> Lead:
    if not data:
        return {}
    return {k: (tuple(v) if k == "tags" and v is not None else v) for k, v in data.items()}


def split_name(full: str | None) -> tuple[str | None, str | None]:
    """Split a display name into (first, last); the last word is the last name."""
    text = norm_str(full)
    if text is None:
        return None, None
    parts = text.rsplit(None, 1)
    if len(parts) == 1:
        return None, parts[0]
    return parts[0], parts[1]


def join_name(first: str | None, last: str | None) -> str | None:
    return norm_str(" ".join(p for p in (norm_str(first), norm_str(last)) if p))


def emails(leads: Iterable[Mapping[str, Any]]) -> set[str]:
    return {e for lead in leads if (e := norm_email(lead.get("visitor_email")))}
