"""The README documents every configuration key the config models accept, so a new
option cannot ship undocumented."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from nexasync.config import Config

README = Path(__file__).resolve().parents[1] / "README.md"


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    """The config models inside an annotation (through lists, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def _keys(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        origin = typing.get_origin(field.annotation)
        nested = list(_models(field.annotation))
        if nested and origin is not dict:
            suffix = "[]." if origin is list else "."
            for sub in nested:
                yield from _keys(sub, path + suffix)
        else:
            yield path


def _documented() -> set[str]:
    """Keys named in the first cell of the README's tables: the first token is a full
    path, the others (after " / ") are its siblings; ``x.*`` and ``x.<field>`` cover
    everything under ``x``."""
    out: set[str] = set()
    for line in README.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        tokens = re.findall(r"`([^`]+)`", line.replace("\\|", "/").split("|")[1])
        if not tokens or not tokens[0].startswith(("state.", "service.", "pairs[].")):
            continue  # another table (commands, exit codes)
        parent = tokens[0].rsplit(".", 1)[0] + "." if "." in tokens[0] else ""
        out.add(tokens[0])
        out.update(parent + t for t in tokens[1:])
    return out


def _covered(key: str, documented: set[str]) -> bool:
    if key in documented:
        return True
    return any(
        d.endswith((".*", ".<field>")) and key.startswith(d.rsplit(".", 1)[0] + ".")
        for d in documented
    ) or any(d.rsplit(".", 1)[0] == key for d in documented if d.endswith(".<field>"))


def test_every_config_key_is_in_the_readme() -> None:
    documented = _documented()
    keys = sorted(set(_keys(Config, "")))
    assert len(keys) > 40  # the walk found the models, not nothing
    missing = [key for key in keys if not _covered(key, documented)]
    assert not missing, f"config keys missing from the README's tables: {missing}"
