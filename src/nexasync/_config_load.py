"""Reading a config: YAML, ``${VAR}`` interpolation, and errors worded for people
(the key, the value, what is wrong — never a secret)."""

from __future__ import annotations

import difflib
import os
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from nexasync.config import Config, ConfigError, HubSpotConfig, SalesforceConfig

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(node: Any, path: str, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k), env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]", env) for i, v in enumerate(node)]
    if isinstance(node, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"{path}: environment variable {name} is not set")

        return _VAR.sub(sub, node)
    return node


#: The CRM kinds, as pydantic names them in error locations after ``crm``.
_CRM_MODELS: dict[str, type[BaseModel]] = {"salesforce": SalesforceConfig, "hubspot": HubSpotConfig}


def _is_tag(loc: tuple[Any, ...], i: int) -> bool:
    return i > 0 and loc[i - 1] == "crm" and loc[i] in _CRM_MODELS


def _key_path(loc: tuple[Any, ...]) -> str:
    """``pairs[0].crm.auth``: the way the file is read, and how interpolation names keys."""
    out = ""
    for part in (p for i, p in enumerate(loc) if not _is_tag(loc, i)):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _section_keys(loc: tuple[Any, ...]) -> list[str] | None:
    """The keys allowed in the section holding ``loc``'s last key, if it is a model."""
    model: Any = Config
    for i, part in enumerate(loc[:-1]):
        if isinstance(part, int):
            continue
        if _is_tag(loc, i):
            model = _CRM_MODELS[part]
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        candidates = [field.annotation, *typing.get_args(field.annotation)]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return list(model.model_fields) if isinstance(model, type) else None


#: Errors about a section's shape: its value may be a secret put where a mapping or
#: list belongs, so only its type is shown.
_SHAPE_ERRORS = {"model_type", "model_attributes_type", "dict_type", "list_type"}


def _describe(error: dict[str, Any], secret_keys: set[str]) -> str:
    raw = tuple(error["loc"])
    loc = _key_path(raw)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{loc}: required key is missing"
    if error["type"] == "union_tag_invalid":
        kinds = ", ".join(_CRM_MODELS)
        return f"{loc}.type: unknown CRM type {error['ctx']['tag']!r} (one of {kinds})"
    if error["type"] == "extra_forbidden":
        known = _section_keys(raw) or []
        close = difflib.get_close_matches(str(raw[-1]), known, n=1)
        hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
        return f"{loc}: unknown key ({hint})" if known else f"{loc}: unknown key"
    value = error.get("input")
    if error["type"] in _SHAPE_ERRORS:
        shape = "a list" if error["type"] == "list_type" else "a mapping"
        return f"{loc}: expected {shape}, got {_kind_of(value)}"
    hidden = raw[:1] == ("state",) or any(k in str(p) for p in raw for k in secret_keys)
    if isinstance(value, (dict, list)) or hidden:
        return f"{loc}: {message}"
    return f"{loc}: {message} (got {value!r})"


def _kind_of(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return "nothing" if value is None else f"a {type(value).__name__}"


#: Parts of key names whose values are never echoed (``access_token``, ``consumer_secret``...).
_SECRET_KEYS = {"api_key", "password", "token", "secret", "session_id"}


def parse(data: Any, env: dict[str, str] | None = None) -> Config:
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping with a 'pairs' list")
    data = _interpolate(data, "", dict(os.environ) if env is None else env)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(e, _SECRET_KEYS) for e in exc.errors()]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None


def load(path: str | Path, env: dict[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(exc)}") from None
    try:
        return parse(data, env)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What and where, without the quoted source line PyYAML adds: it may hold a secret."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return "cannot parse it"

    def at(mark: Any) -> str:
        return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""

    context = f" ({exc.context}{at(exc.context_mark)})" if exc.context else ""
    return f"{exc.problem or 'cannot parse it'}{at(exc.problem_mark)}{context}"
