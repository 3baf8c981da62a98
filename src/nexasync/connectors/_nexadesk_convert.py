"""NexaDesk leads <-> canonical leads: reading, the documented limits, request bodies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import Any

from nexasync.connectors.base import Record
from nexasync.lead import FIELDS, Lead, norm_str, normalise, to_json

#: The documented maximum lengths.
LIMITS: dict[str, int] = {
    "visitor_name": 200,
    "visitor_phone": 50,
    "visitor_company": 200,
    "need_summary": 2000,
    "source": 100,
}
#: POST has no assigned_rep_id: a create with a rep is a POST then a PATCH.
CREATE_FIELDS = frozenset(FIELDS) - {"assigned_rep_id"}
#: PATCH cannot change source (it is set once, at creation).
UPDATE_FIELDS = frozenset(FIELDS) - {"source"}
DEFAULT_SOURCE = "api"


class RecordError(ValueError):
    """A record NexaDesk would refuse as it is; the message names the field."""


def parse_ts(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_ts(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def version_of(updated_at: str, fields: Lead) -> str:
    """updated_at plus a digest of the content: updated_at only has millisecond
    precision, and two edits in one millisecond must still read as two versions."""
    digest = hashlib.sha1(
        json.dumps(to_json(fields), sort_keys=True, default=str).encode()
    ).hexdigest()
    return f"{updated_at}#{digest[:12]}"


def to_record(raw: Mapping[str, Any]) -> Record:
    """A lead as the API returns it -> :class:`Record` (``invalid`` when unreadable)."""
    lead_id = str(raw["id"])
    updated_at = raw.get("updated_at")
    try:
        modified = parse_ts(updated_at)
    except (TypeError, ValueError):
        return Record(lead_id, invalid=f"updated_at is not a timestamp: {updated_at!r}")
    try:
        fields = normalise({name: raw.get(name) for name in FIELDS})
    except (TypeError, ValueError, KeyError) as exc:
        return Record(lead_id, version=str(updated_at), modified_at=modified, invalid=str(exc))
    return Record(
        lead_id,
        fields=fields,
        version=version_of(str(updated_at), fields),
        modified_at=modified,
    )


def _limit(name: str, value: Any, truncate: Collection[str]) -> Any:
    limit = LIMITS.get(name)
    if limit is None or not isinstance(value, str) or len(value) <= limit:
        return value
    if name in truncate:
        return norm_str(value[:limit])
    raise RecordError(f"{name} is {len(value)} characters; NexaDesk allows at most {limit}")


def enforce(fields: Lead, truncate: Collection[str], *, creating: bool) -> Lead:
    """``fields`` within NexaDesk's limits (truncating where allowed), or RecordError."""
    out = {name: _limit(name, value, truncate) for name, value in fields.items()}
    if (creating or "visitor_name" in out) and not out.get("visitor_name"):
        raise RecordError("visitor_name is required by NexaDesk and is blank")
    if not creating and "pipeline_stage" in out and out["pipeline_stage"] is None:
        raise RecordError("pipeline_stage cannot be blank in NexaDesk")
    return out


def project(lead: Lead, truncate: Collection[str]) -> Lead:
    """``lead`` as it reads back from NexaDesk: truncated to the limits, a blank
    source defaulted (fields that would be refused are left as they are)."""
    out = dict(lead)
    for name, value in lead.items():
        if name in truncate:
            out[name] = _limit(name, value, truncate)
    if "source" in out and out["source"] is None:
        out["source"] = DEFAULT_SOURCE
    return out


def create_body(fields: Lead) -> dict[str, Any]:
    """The POST body: blanks left out so NexaDesk applies its own defaults."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in fields.items()
        if name in CREATE_FIELDS and value is not None and value != ()
    }


def update_body(fields: Lead) -> dict[str, Any]:
    """The PATCH body: ``None`` is sent as JSON null to clear a field."""
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in UPDATE_FIELDS:
            continue
        if name == "tags":
            value = list(value or ())
        body[name] = value
    return body


def same_lead(record: Record, sent: Mapping[str, Any]) -> bool:
    """Whether ``record`` holds every field value of a POST body ``sent``."""
    if record.invalid is not None:
        return False
    try:
        wanted = normalise(sent)
    except (TypeError, ValueError, KeyError):
        return False
    return all(record.fields.get(name) == value for name, value in wanted.items())
