"""Reading the deploy files the way their tools would (Dockerfile instructions, compose
with its merge keys, Kubernetes documents, the systemd unit) and checking command
lines against the real ``nexasync`` click tree."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import click
import yaml

from nexasync.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "kubernetes"
UNIT = DEPLOY / "systemd" / "nexasync.service"
#: The config every deployment ships (compose mounts it, the ConfigMap holds it).
CONFIG = DEPLOY / "config" / "nexasync.yaml"
ENV_EXAMPLE = DEPLOY / "nexasync.env.example"

#: ``${VAR}`` without a default: the config fails to load unless VAR is set.
_REQUIRED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ARG_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def required_vars(text: str) -> set[str]:
    return set(_REQUIRED_VAR.findall(text))


# -- Dockerfile ----------------------------------------------------------------------------
@dataclass
class Instruction:
    keyword: str
    value: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    def all(self, keyword: str) -> list[str]:
        return [i.value for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def expand(self, value: str) -> str:
        return _ARG_REF.sub(lambda m: self.variables[m.group(1) or m.group(2)], value)


def _logical_lines(text: str) -> Iterator[str]:
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def _assignments(value: str) -> dict[str, str]:
    """``KEY=VALUE KEY2=VALUE2`` (ENV, ARG) or the legacy ``KEY VALUE``."""
    words = shlex.split(value)
    if "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) if "=" in word else (word, "") for word in words)


def dockerfile_stages(text: str | None = None) -> list[Stage]:
    text = DOCKERFILE.read_text() if text is None else text
    stages: list[Stage] = []
    global_args: dict[str, str] = {}
    for line in _logical_lines(text):
        keyword, _, value = line.partition(" ")
        keyword, value = keyword.upper(), value.strip()
        if keyword == "FROM":
            words = value.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stage = Stage(_ARG_REF.sub(lambda m: global_args[m.group(1) or m.group(2)],
                                       words[0]), name)  # fmt: skip
            stages.append(stage)
            continue
        if not stages:
            if keyword == "ARG":
                global_args.update(_assignments(value))
            continue
        stage = stages[-1]
        if keyword in ("ARG", "ENV"):
            stage.variables.update(
                {k: stage.expand(v) for k, v in _assignments(value).items()}
            )
        stage.instructions.append(Instruction(keyword, value))
    return stages


def exec_form(value: str) -> list[str]:
    """A JSON-array instruction value (CMD, ENTRYPOINT); shell form is refused."""
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed), value
    return parsed


def healthcheck_command(stage: Stage) -> list[str]:
    value = stage.last("HEALTHCHECK")
    assert value is not None, "the runtime stage has no HEALTHCHECK"
    _, cmd, args = value.partition("CMD ")
    assert cmd, f"HEALTHCHECK without CMD: {value}"
    return exec_form(args.strip())


# -- YAML ----------------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def k8s_documents() -> dict[str, list[dict[str, Any]]]:
    """Every YAML document under deploy/kubernetes, by file name."""
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        for path in sorted(K8S.glob("*.yaml"))
    }


def k8s_object(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        doc
        for docs in k8s_documents().values()
        for doc in docs
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return workload["spec"]["template"]["spec"]  # type: ignore[no-any-return]


# -- systemd -------------------------------------------------------------------------------
def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  (keys are case-sensitive)
    parser.read_string(UNIT.read_text())
    return parser


# -- paths ---------------------------------------------------------------------------------
def sqlite_path(url: str) -> PurePosixPath:
    assert url.startswith("sqlite:////"), f"not an absolute SQLite path: {url}"
    return PurePosixPath(url.removeprefix("sqlite:///"))


def is_under(path: PurePosixPath | str, directory: PurePosixPath | str) -> bool:
    path, directory = PurePosixPath(path), PurePosixPath(directory)
    return path == directory or directory in path.parents


def compose_volume_targets(service: dict[str, Any]) -> dict[str, str]:
    """Mount target -> source for a compose service's short-syntax volumes."""
    out: dict[str, str] = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        out[target] = source
    return out


# -- the click tree ------------------------------------------------------------------------
def _option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def resolve_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Check ``nexasync ARGV`` against the real command tree the way click parses it:
    every command and option exists, values fit their types, required options are
    given. Returns the subcommand path, e.g. ``("sync",)``; raises AssertionError or
    click's own errors otherwise."""
    command: click.Command = cli
    path: list[str] = []
    given: set[str] = set()
    arguments = 0
    args = list(argv)
    while args:
        token = args.pop(0)
        where = " ".join(["nexasync", *path])
        if token.startswith("-") and token != "-":
            name, eq, inline = token.partition("=")
            param = _option(command, name)
            assert param is not None, f"`{where}` has no option {name}"
            if not (param.is_flag or param.count):
                assert eq or args, f"`{where} {name}` needs a value"
                value = inline if eq else args.pop(0)
                param.type.convert(value, param, None)
            given.add(param.name or "")
            continue
        if isinstance(command, click.Group):
            sub = command.commands.get(token)
            assert sub is not None, f"`{where}` has no command {token!r}"
            _check_required(command, given, where)
            command, given, arguments = sub, set(), 0
            path.append(token)
            continue
        arguments += 1
        allowed = sum(1 for p in command.params if isinstance(p, click.Argument))
        assert arguments <= allowed, f"`{where}` takes no argument {token!r}"
    assert not isinstance(command, click.Group), f"no command after {' '.join(argv)!r}"
    _check_required(command, given, " ".join(["nexasync", *path]))
    return tuple(path)


def _check_required(command: click.Command, given: set[str], where: str) -> None:
    for param in command.params:
        if isinstance(param, click.Option) and param.required:
            assert param.name in given, f"`{where}` needs {param.opts[0]}"
