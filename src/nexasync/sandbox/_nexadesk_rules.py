"""What the NexaDesk emulator accepts: request validation, list parameters, the
lead's rendering and its score. Kept apart from the routing so each stays small.

The rules follow the published Leads reference; where it is silent (error bodies,
type coercion) the emulator is strict, so a client that passes here does not rely
on leniency the real service may not have.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

STAGES: tuple[str, ...] = ("new", "qualified", "assigned", "contacted", "converted", "lost")
SORT_FIELDS: tuple[str, ...] = ("created_at", "updated_at", "lead_score", "visitor_name")
MAX_LENGTHS: dict[str, int] = {
    "visitor_name": 200,
    "visitor_phone": 50,
    "visitor_company": 200,
    "need_summary": 2000,
    "source": 100,
}
STRING_FIELDS: tuple[str, ...] = (
    "visitor_name",
    "visitor_email",
    "visitor_phone",
    "visitor_company",
    "need_summary",
    "source",
)
CREATE_FIELDS: frozenset[str] = frozenset(
    (*STRING_FIELDS, "pipeline_stage", "tags", "expected_billing_amount")
)
#: ``source`` is create-only; ``assigned_rep_id`` is update-only.
UPDATE_FIELDS: frozenset[str] = (CREATE_FIELDS - {"source"}) | {"assigned_rep_id"}
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class Invalid(Exception):
    """A request the API refuses with 400; the message names the field."""


def format_ts(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_ms(value: datetime) -> datetime:
    """UTC, truncated to the millisecond: the precision the API stores."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def parse_ts(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return to_ms(value)


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int:
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode()
        offset = int(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Invalid("cursor is not a valid pagination cursor") from None
    if offset < 0:
        raise Invalid("cursor is not a valid pagination cursor")
    return offset


def _int_param(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"{name} must be an integer") from None


def list_params(args: Mapping[str, str]) -> dict[str, Any]:
    """Parse and check the query of a list request."""
    stage = args.get("stage") or None
    if stage is not None and stage not in STAGES:
        raise Invalid(f"stage must be one of: {', '.join(STAGES)}")
    sort_field, _, direction = (args.get("sort") or "created_at:desc").partition(":")
    direction = direction or "asc"
    if sort_field not in SORT_FIELDS:
        raise Invalid(f"sort field must be one of: {', '.join(SORT_FIELDS)}")
    if direction not in ("asc", "desc"):
        raise Invalid("sort direction must be asc or desc")
    limit = _int_param(args, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    if args.get("cursor"):
        offset = decode_cursor(args["cursor"])
    else:
        page = _int_param(args, "page", 1)
        if page < 1:
            raise Invalid("page must be 1 or more")
        offset = (page - 1) * limit
    return {
        "stage": stage,
        "search": (args.get("search") or "").strip().casefold() or None,
        "sort": sort_field,
        "desc": direction == "desc",
        "limit": limit,
        "offset": offset,
    }


def sort_key(field: str, lead: Mapping[str, Any]) -> Any:
    value = lead.get(field)
    if field == "visitor_name":
        return (value or "").casefold()
    return value


def matches(lead: Mapping[str, Any], stage: str | None, search: str | None) -> bool:
    if stage is not None and lead.get("pipeline_stage") != stage:
        return False
    if search is None:
        return True
    haystacks: Iterable[Any] = (
        lead.get("visitor_name"),
        lead.get("visitor_email"),
        lead.get("visitor_company"),
    )
    return any(isinstance(h, str) and search in h.casefold() for h in haystacks)


def _check_value(name: str, value: Any, reps: Mapping[str, Any]) -> Any:
    if name == "assigned_rep_id":
        if value is not None and value not in reps:
            raise Invalid(f"assigned_rep_id: no sales rep with id {value!r}")
        return value
    if name == "pipeline_stage":
        if value not in STAGES:
            raise Invalid(f"pipeline_stage must be one of: {', '.join(STAGES)}")
        return value
    if name == "tags":
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise Invalid("tags must be an array of strings")
        return list(value)
    if name == "expected_billing_amount":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid("expected_billing_amount must be a number")
        if not math.isfinite(value):
            raise Invalid("expected_billing_amount must be a finite number")
        return value
    if name == "visitor_name" and (not isinstance(value, str) or not value.strip()):
        raise Invalid("visitor_name is required and must be a non-empty string")
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string")
    limit = MAX_LENGTHS.get(name)
    if limit is not None and len(value) > limit:
        raise Invalid(f"{name} must be at most {limit} characters")
    return value


def validate(body: Any, *, creating: bool, reps: Mapping[str, Any]) -> dict[str, Any]:
    """The checked fields of a POST (``creating``) or PATCH body."""
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object")
    allowed = CREATE_FIELDS if creating else UPDATE_FIELDS
    for name in body:
        if name == "source" and not creating:
            raise Invalid("source cannot be updated")
        if name not in allowed:
            raise Invalid(f"unknown field: {name}")
    if creating and "visitor_name" not in body:
        raise Invalid("visitor_name is required")
    out = {name: _check_value(name, value, reps) for name, value in body.items()}
    if creating:
        if not isinstance(out.get("source"), str) or not out["source"].strip():
            out["source"] = "api"
        if out.get("pipeline_stage") is None:
            out["pipeline_stage"] = "new"
    return out


def lead_score(lead: Mapping[str, Any]) -> int:
    """A stand-in for the provider's scoring: richer, further-along leads score higher."""
    score = 10
    score += 20 if lead.get("visitor_email") else 0
    score += 10 if lead.get("visitor_phone") else 0
    score += 15 if lead.get("visitor_company") else 0
    amount = lead.get("expected_billing_amount")
    if isinstance(amount, (int, float)) and not isinstance(amount, bool) and amount > 0:
        score += min(25, int(amount // 1000) * 5)
    bonus = {"qualified": 10, "assigned": 10, "contacted": 15, "converted": 20}
    score += bonus.get(str(lead.get("pipeline_stage")), 0)
    return max(0, min(100, score))
