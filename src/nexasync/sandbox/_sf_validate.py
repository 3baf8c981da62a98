"""Reading a write's JSON body into field values, and the save-time rules of a Lead.

Two kinds of failure, as in Salesforce: a body that does not deserialize (an
unknown field, a value of the wrong JSON type) fails the whole request; a record
that breaks a save rule (required, length, email, picklist, owner, read-only
field) fails on its own and, in a collection, leaves the other records alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from werkzeug.wrappers import Response

from nexasync.sandbox._http import json_response
from nexasync.sandbox._sf_schema import NUMBER_TYPES, Field, norm_id, parse_time


@dataclass
class SfError:
    code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def rest(self) -> dict[str, Any]:
        return {"message": self.message, "errorCode": self.code, "fields": self.fields}

    def collection(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


class RequestError(ValueError):
    """The whole request fails: ``[{"message", "errorCode"}]`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code}]


class RecordError(ValueError):
    """One record is refused; ``status`` is what a single-record call answers."""

    def __init__(self, errors: list[SfError], status: int = 400) -> None:
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in errors))
        self.errors, self.status = errors, status

    @classmethod
    def one(cls, code: str, message: str, fields: list[str] | None = None,
            status: int = 400) -> RecordError:
        return cls([SfError(code, message, fields or [])], status)


_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


def resolve(fields: dict[str, Field], name: str) -> Field | None:
    """Field names are case-insensitive in the API."""
    got = fields.get(name)
    if got is not None:
        return got
    lower = name.lower()
    return next((f for n, f in fields.items() if n.lower() == lower), None)


def _parser_error(f: Field, value: Any) -> RequestError:
    kind = type(value).__name__.upper()
    return RequestError(
        400, "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {f.type} from VALUE_{kind} value {value} "
        "or request may be missing a required field",
    )


def coerce(f: Field, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise _parser_error(f, value)
    if f.is_text:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return text or None  # Salesforce stores an empty string as null
    if f.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parser_error(f, value)
    if f.type in NUMBER_TYPES:
        if isinstance(value, bool):
            raise _parser_error(f, value)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _parser_error(f, value) from None
        if not number.is_finite():
            raise _parser_error(f, value)
        if f.type == "int":
            return int(number.to_integral_value(ROUND_HALF_UP))
        return float(number.quantize(Decimal(1).scaleb(-f.scale), ROUND_HALF_UP))
    if f.type in ("datetime", "date") and isinstance(value, str):
        parsed = parse_time(value if "T" in value else value + "T00:00:00Z")
        if parsed is None:
            raise _parser_error(f, value)
        return parsed if f.type == "datetime" else parsed.date()
    raise _parser_error(f, value)


def read_body(fields: dict[str, Field], body: Any, obj: str,
              keys: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """(field values by canonical name, the ``keys`` found, e.g. a collection's Id)."""
    if not isinstance(body, dict):
        raise RequestError(400, "JSON_PARSER_ERROR", f"Expected an object for {obj}")
    values: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for name, value in body.items():
        if name == "attributes":
            continue
        key = next((k for k in keys if k.lower() == name.lower()), None)
        if key is not None:
            found[key] = value
            continue
        f = resolve(fields, name)
        if f is None:
            raise RequestError(400, "INVALID_FIELD",
                               f"No such column '{name}' on sobject of type {obj}")
        values[f.name] = coerce(f, value)
    return values, found


def _shown(value: str) -> str:
    return value if len(value) <= 200 else value[:200] + "(value has been truncated)"


def check_values(fields: dict[str, Field], values: dict[str, Any], *, creating: bool,
                 users: dict[str, dict[str, Any]], obj: str = "lead") -> list[SfError]:
    """Errors of the given values alone (the merged record is checked by ``missing``)."""
    locked = [n for n in values
              if not (fields[n].createable if creating else fields[n].updateable)]
    if locked:
        return [SfError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.", locked)]
    errors: list[SfError] = []
    for name, value in values.items():
        f = fields[name]
        if value is None:
            continue
        if f.is_text and f.length and len(value) > f.length:
            errors.append(SfError("STRING_TOO_LONG", f"{f.label}: data value too large: "
                                  f"{_shown(value)} (max length={f.length})", [name]))
        elif f.type == "email" and not _EMAIL.match(value):
            errors.append(SfError("INVALID_EMAIL_ADDRESS",
                                  f"{f.label}: invalid email address: {value}", [name]))
        elif f.type == "picklist" and f.restricted and value not in f.picklist:
            errors.append(SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                  f"{f.label}: bad value for restricted picklist field: {value}",
                                  [name]))
        elif f.type in NUMBER_TYPES and f.precision and abs(value) >= 10 ** (f.precision - f.scale):
            errors.append(SfError("NUMBER_OUTSIDE_VALID_RANGE",
                                  f"{f.label}: value outside of valid range on numeric field: "
                                  f"{value}", [name]))
        elif name == "OwnerId":
            error = _owner_error(value, users, obj)
            if error:
                errors.append(error)
            else:
                values[name] = norm_id(value)
    return errors


def _owner_error(value: str, users: dict[str, dict[str, Any]], obj: str) -> SfError | None:
    uid = norm_id(value)
    if uid is None:
        return SfError("MALFORMED_ID", f"Owner ID: id value of incorrect type: {value}",
                       ["OwnerId"])
    user = users.get(uid)
    if user is None:
        return SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["OwnerId"])
    if not user["IsActive"]:
        return SfError("INACTIVE_OWNER_OR_USER",
                       f"operation performed with inactive user [{uid}] as owner of {obj}", [])
    return None


def missing(fields: dict[str, Field], record: dict[str, Any]) -> SfError | None:
    names = [f.name for f in fields.values()
             if not f.nillable and f.createable and f.type != "boolean"
             and record.get(f.name) is None]
    if not names:
        return None
    return SfError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]",
                   names)


def fail(status: int, code: str, message: str) -> Response:
    return json_response([{"message": message, "errorCode": code}], status)


def refused(error: RecordError | RequestError) -> Response:
    if isinstance(error, RequestError):
        return json_response(error.body(), error.status)
    return json_response([e.rest() for e in error.errors], error.status)
