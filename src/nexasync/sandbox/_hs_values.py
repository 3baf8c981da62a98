"""Property values on the way in: every value becomes the string HubSpot stores, and
every invalid one becomes a :class:`Problem` with HubSpot's code and wording."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from nexasync.sandbox._hs_errors import Problem
from nexasync.sandbox._hs_schema import COMPUTED, Prop, parse_instant, ts

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$")


def as_text(value: Any) -> str:
    """HubSpot keeps every value as text; null clears like an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _options_text(prop: Prop) -> str:
    # HubSpot prints the allowed options in protobuf text form.
    parts = [f'label: "{label}"\nvalue: "{value}"\ndisplay_order: {i}\nhidden: false\n'
             f"read_only: false\n" for i, (value, label) in enumerate(prop.options)]
    return "[" + ", ".join(parts) + "]"


def _number(text: str) -> str | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _check_one(prop: Prop, text: str, owner_ids: set[str]) -> tuple[str, Problem | None]:
    name = prop.name
    if prop.name == "email":
        if not _EMAIL.match(text.strip()):
            return text, Problem(name, "INVALID_EMAIL", f"Email address {text} is invalid")
        return text.strip(), None
    if prop.referenced_object == "OWNER":
        if text not in owner_ids:
            return text, Problem(name, "INVALID_OWNER_ID", f"{text} is not a valid owner id")
        return text, None
    if prop.type == "enumeration":
        values = text.split(";") if prop.multi else [text]
        allowed = {v for v, _ in prop.options}
        for value in values:
            if value not in allowed:
                return text, Problem(name, "INVALID_OPTION", f"{value} was not one of the "
                                     f"allowed options: {_options_text(prop)}")
        return text, None
    if prop.type == "number":
        number = _number(text)
        if number is None:
            return text, Problem(name, "INVALID_DOUBLE", f"{text} was not a valid number.")
        return number, None
    if prop.type == "bool":
        if text.lower() not in ("true", "false"):
            return text, Problem(name, "INVALID_BOOLEAN", f"{text} was not a valid boolean.")
        return text.lower(), None
    if prop.type in ("datetime", "date"):
        instant = parse_instant(text)
        if instant is None:
            return text, Problem(name, "INVALID_LONG", f"{text} was not a valid long.")
        return ts(instant), None
    return text, None


def check(props: Mapping[str, Prop], values: Mapping[str, Any],
          owner_ids: set[str]) -> tuple[dict[str, str], list[Problem]]:
    """The values as stored text, and a problem for each invalid one (all of them)."""
    clean: dict[str, str] = {}
    problems: list[Problem] = []
    for name, raw in values.items():
        prop = props.get(name)
        if prop is None:
            problems.append(Problem(name, "PROPERTY_DOESNT_EXIST",
                                    f'Property "{name}" does not exist'))
            continue
        if prop.read_only or name in COMPUTED:
            kind = "a calculated" if prop.calculated else "a read only"
            problems.append(Problem(name, "READ_ONLY_VALUE",
                                    f'"{name}" is {kind} property; its value cannot be set.'))
            continue
        text = as_text(raw)
        if text == "":
            clean[name] = ""
            continue
        value, problem = _check_one(prop, text, owner_ids)
        if problem is not None:
            problems.append(problem)
        else:
            clean[name] = value
    return clean, problems
