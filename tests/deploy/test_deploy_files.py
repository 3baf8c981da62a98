"""The Dockerfile, compose file, Kubernetes manifests and systemd unit agree with the
application: the port it listens on with the config they ship, its probe paths, its
commands and options, the variables its config reads, where it keeps its state, and
how long it takes to stop. No container engine is needed: the files are read as data."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from _deploy_files import (
    COMPOSE,
    CONFIG,
    DEPLOY,
    DOCKERIGNORE,
    ENV_EXAMPLE,
    K8S,
    ROOT,
    compose,
    compose_volume_targets,
    dockerfile_stages,
    exec_form,
    healthcheck_command,
    is_under,
    k8s_documents,
    k8s_object,
    pod_spec,
    required_vars,
    resolve_argv,
    sqlite_path,
    unit,
)

from nexasync.config import Config, ConfigError, load_config, parse_config
from nexasync.health import PATHS

IMAGE_STATE = "/var/lib/nexasync"


def _shipped_config(env: dict[str, str] | None = None) -> Config:
    """The config the deployments mount, with a dummy value for each variable it reads."""
    names = required_vars(CONFIG.read_text())
    return load_config(CONFIG, env={n: f"dummy-{n}" for n in names} if env is None else env)


def _listen_port() -> int:
    address = _shipped_config().service.address()
    assert address is not None, "the shipped config turns the health endpoint off"
    return address[1]


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def _runtime() -> Any:
    return dockerfile_stages()[-1]


def _image_argv(service: dict[str, Any] | None = None) -> list[str]:
    """The image's ENTRYPOINT + CMD (or a compose service's command in place of CMD)."""
    stage = _runtime()
    entrypoint = exec_form(stage.last("ENTRYPOINT") or "[]")
    cmd = exec_form(stage.last("CMD") or "[]")
    if service is not None and "command" in service:
        command = service["command"]
        cmd = command.split() if isinstance(command, str) else [str(c) for c in command]
    return [*entrypoint, *cmd]


def _nexasync_args(argv: list[str]) -> list[str]:
    assert argv and PurePosixPath(argv[0]).name == "nexasync", argv
    return argv[1:]


def _duration_seconds(value: str) -> float:
    """``75``, ``75s``, ``1m15s``: how compose and systemd write durations."""
    if value.isdigit():
        return int(value)
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", value)
    assert match and value, f"not a duration: {value!r}"
    return int(match[1] or 0) * 60 + int(match[2] or 0)


# -- the config they ship ------------------------------------------------------------------
def test_the_shipped_config_is_valid_and_secret_free() -> None:
    config = _shipped_config()
    assert config.service.address() == ("0.0.0.0", 9464), "probes from outside need 0.0.0.0"
    assert is_under(sqlite_path(config.state.url), IMAGE_STATE)
    # Every secret comes from a variable: none is written in the file.
    for name in ("api_key", "password", "security_token"):
        for line in CONFIG.read_text().splitlines():
            if re.match(rf"\s*{name}:", line):
                assert "${" in line, line


def test_the_configmap_holds_the_shipped_config() -> None:
    data = k8s_object("ConfigMap")["data"]
    assert data == {"nexasync.yaml": CONFIG.read_text()}


@pytest.mark.parametrize("source", ["secret", "env-example"])
def test_every_variable_the_config_reads_is_provided(source: str) -> None:
    if source == "secret":
        secret = k8s_object("Secret")
        provided = dict(secret["stringData"])
    else:
        lines = [ln for ln in ENV_EXAMPLE.read_text().splitlines() if ln and ln[0] != "#"]
        provided = dict(line.split("=", 1) for line in lines)
    assert required_vars(CONFIG.read_text()) <= set(provided)
    # The values given, and nothing from this process's environment, make it load.
    assert _shipped_config(provided).pairs[0].name == "main"
    missing = dict(provided)
    missing.pop(sorted(required_vars(CONFIG.read_text()))[0])
    with pytest.raises(ConfigError, match="environment variable .* is not set"):
        _shipped_config(missing)


# -- ports and probes ----------------------------------------------------------------------
def test_every_health_port_is_the_one_the_app_listens_on() -> None:
    port = _listen_port()
    stage = _runtime()
    assert stage.all("EXPOSE") == [str(port)]

    url = re.search(r"https?://([\w.]+):(\d+)(/[^'\"]*)", " ".join(healthcheck_command(stage)))
    assert url, healthcheck_command(stage)
    assert (url[1], int(url[2]), url[3]) == ("127.0.0.1", port, PATHS["health"])

    services = compose()["services"]
    for name in ("nexasync", "nexasync-sandbox"):
        published = [p.rsplit(":", 1)[1] for p in services[name]["ports"]]
        assert published == [str(port)], name

    deployment = k8s_object("Deployment")
    ports = {p["name"]: p["containerPort"] for p in _container(deployment)["ports"]}
    assert ports == {"health": port}
    service = k8s_object("Service")
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port, "health")]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_probes_use_the_app_paths_on_the_health_port() -> None:
    container = _container(k8s_object("Deployment"))
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"] == {"path": PATHS["health"], "port": "health"}
    assert probes["readinessProbe"] == {"path": PATHS["ready"], "port": "health"}
    assert {p["path"] for p in probes.values()} <= set(PATHS.values())


# -- commands ------------------------------------------------------------------------------
def test_command_checker_rejects_what_click_would() -> None:
    assert resolve_argv(["--log-format", "json", "sync", "--once", "--pair", "x"]) == ("sync",)
    assert resolve_argv(["explain", "some-id"]) == ("explain",)
    for bad in (["sync"], ["nope"], ["run", "--bogus"], ["--log-format", "xml", "run"],
                ["sandbox", "--leads", "many"], ["status", "extra"], []):  # fmt: skip
        with pytest.raises(Exception):  # noqa: B017  (AssertionError or click's own)
            resolve_argv(bad)


def test_every_command_line_is_a_real_nexasync_command() -> None:
    found: dict[str, tuple[str, ...]] = {}
    found["Dockerfile"] = resolve_argv(_nexasync_args(_image_argv()))
    for name, service in compose()["services"].items():
        found[f"compose {name}"] = resolve_argv(_nexasync_args(_image_argv(service)))
    for kind in ("Deployment", "CronJob"):
        container = _container(k8s_object(kind))
        argv = [*container.get("command", exec_form(_runtime().last("ENTRYPOINT"))),
                *container["args"]]  # fmt: skip
        found[kind] = resolve_argv(_nexasync_args(argv))
    found["systemd"] = resolve_argv(_nexasync_args(unit()["Service"]["ExecStart"].split()))
    assert found == {
        "Dockerfile": ("run",),
        "compose nexasync": ("run",),
        "compose sandbox": ("sandbox",),
        "compose nexasync-sandbox": ("run",),
        "Deployment": ("run",),
        "CronJob": ("sync",),
        "systemd": ("run",),
    }
    assert _container(k8s_object("CronJob"))["args"] == ["sync", "--once"]


# -- state ---------------------------------------------------------------------------------
def test_state_is_on_the_declared_volumes() -> None:
    state = sqlite_path(_shipped_config().state.url)
    stage = _runtime()
    volumes = [v for value in stage.all("VOLUME") for v in exec_form(value)]
    assert any(is_under(state, v) for v in volumes), (state, volumes)
    assert stage.variables["NEXASYNC_CONFIG"] == "/etc/nexasync/nexasync.yaml"

    service = compose()["services"]["nexasync"]
    mounts = compose_volume_targets(service)
    assert any(is_under(state, t) and s in compose()["volumes"] for t, s in mounts.items())
    config_target = service["environment"]["NEXASYNC_CONFIG"]
    assert (COMPOSE.parent / mounts[config_target]).resolve() == CONFIG

    claim = k8s_object("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    for kind in ("Deployment", "CronJob"):
        spec = pod_spec(k8s_object(kind))
        container = _container(k8s_object(kind))
        volumes_by_name = {v["name"]: v for v in spec["volumes"]}
        mounted = {m["mountPath"]: volumes_by_name[m["name"]] for m in container["volumeMounts"]}
        on_claim = [p for p, v in mounted.items()
                    if v.get("persistentVolumeClaim", {}).get("claimName")
                    == claim["metadata"]["name"]]  # fmt: skip
        assert any(is_under(state, p) for p in on_claim), kind
        env = {e["name"]: e["value"] for e in container["env"]}
        config_path = PurePosixPath(env["NEXASYNC_CONFIG"])
        config_volume = mounted[str(config_path.parent)]
        assert config_volume["configMap"]["name"] == k8s_object("ConfigMap")["metadata"]["name"]
        assert config_path.name in k8s_object("ConfigMap")["data"]
        secret_refs = [e["secretRef"]["name"] for e in container["envFrom"]]
        assert secret_refs == [k8s_object("Secret")["metadata"]["name"]]

    service_section = unit()["Service"]
    assert is_under(state, f"/var/lib/{service_section['StateDirectory']}")
    assert service_section["Environment"] == "NEXASYNC_CONFIG=/etc/nexasync/nexasync.yaml"


def test_compose_sandbox_profile_wires_the_generated_config(tmp_path: Path) -> None:
    """The sandbox service's command, run for real (on loopback, in a temporary folder
    standing for the volume), writes a config that the nexasync-sandbox service finds
    where it looks, listening where its ports say, naming the sandbox service's host."""
    from _sandbox_process import sandbox_command

    services = compose()["services"]
    box, client = services["sandbox"], services["nexasync-sandbox"]
    assert box["profiles"] == client["profiles"] == ["sandbox"]
    assert "profiles" not in services["nexasync"]
    assert client["depends_on"] == {"sandbox": {"condition": "service_healthy"}}

    args = _nexasync_args(_image_argv(box))[1:]
    opts = dict(zip(args[::2], args[1::2]))
    assert opts["--host"] == "0.0.0.0" and opts["--advertise-host"] == "sandbox"
    folder = PurePosixPath(opts["--dir"])
    config_path = folder / "nexasync.yaml"
    assert client["environment"]["NEXASYNC_CONFIG"] == str(config_path)
    assert str(config_path) in " ".join(box["healthcheck"]["test"])
    # Same volume at the same place in both: the config's paths hold in either container.
    shared = {
        t: s
        for t, s in compose_volume_targets(box).items()
        if is_under(folder, t) and compose_volume_targets(client).get(t) == s
    }
    assert shared and all(s in compose()["volumes"] for s in shared.values())

    local = dict(opts, **{"--host": "127.0.0.1", "--dir": str(tmp_path / "sb")})
    ports = ["--nexadesk-port", "0", "--salesforce-port", "0", "--hubspot-port", "0"]
    with sandbox_command([*(x for kv in local.items() for x in kv), *ports, "--leads", "0"]) as sb:
        data = yaml.safe_load(sb.config.read_text())
    pair = data["pairs"][0]
    assert "://sandbox:" in pair["nexadesk"]["base_url"]
    assert "://sandbox:" in pair["crm"]["login_url"]
    config = parse_config(data, env={})
    container_port = client["ports"][0].rsplit(":", 1)[1]
    assert config.service.address() == ("0.0.0.0", int(container_port))
    state = PurePosixPath(sqlite_path(config.state.url).as_posix().replace(
        str(tmp_path / "sb"), str(folder)))  # fmt: skip
    assert any(is_under(state, t) for t in shared), state


# -- users, stopping, shape ----------------------------------------------------------------
def test_everything_runs_as_the_same_non_root_user() -> None:
    user = _runtime().expand(_runtime().last("USER") or "")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, f"USER {user!r}: numeric, so runAsNonRoot can check"
    for kind in ("Deployment", "CronJob"):
        pod = pod_spec(k8s_object(kind))["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (int(uid), int(gid),
                                                                          int(gid))
        container = _container(k8s_object(kind))["securityContext"]
        assert container["readOnlyRootFilesystem"] is True
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"]["drop"] == ["ALL"]
    for service in compose()["services"].values():
        assert "user" not in service and service["read_only"] is True
    assert unit()["Service"]["User"] not in ("", "root", "0")


def test_stop_grace_exceeds_the_service_stop_timeout() -> None:
    timeout = _shipped_config().service.stop_timeout_seconds
    for kind in ("Deployment", "CronJob"):
        assert pod_spec(k8s_object(kind))["terminationGracePeriodSeconds"] > timeout, kind
    for name, service in compose()["services"].items():
        assert _duration_seconds(service["stop_grace_period"]) > timeout, name
    section = unit()["Service"]
    assert _duration_seconds(section["TimeoutStopSec"]) > timeout
    assert section["KillSignal"] == "SIGTERM"
    assert _runtime().last("STOPSIGNAL") in (None, "SIGTERM")


def test_kubernetes_workloads_fit_a_single_writer() -> None:
    deployment = k8s_object("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    cronjob = k8s_object("CronJob")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    for docs in k8s_documents().values():
        for doc in docs:
            assert "namespace" not in doc.get("metadata", {}), "the namespace is the user's"
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert all((K8S / name).is_file() for name in listed)
    assert "secret.example.yaml" not in listed, "placeholder credentials must not be applied"
    assert {"configmap.yaml", "pvc.yaml", "deployment.yaml"} <= listed


def test_systemd_unit_restarts_and_is_hardened() -> None:
    section = unit()["Service"]
    assert section["Restart"] == "on-failure"
    assert section["EnvironmentFile"].lstrip("-") == "/etc/nexasync/nexasync.env"
    assert section["Group"] == section["User"]
    hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                 "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": ""}
    assert {k: section.get(k) for k in hardening} == hardening
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_dockerfile_is_multi_stage_slim_with_a_healthcheck() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    assert builder.name == "builder" and re.fullmatch(r"python:[\d.]+-slim", builder.base)
    assert re.fullmatch(r"python:[\d.]+-slim", runtime.base)
    assert any("pip wheel" in run for run in builder.all("RUN"))
    # The runtime installs the builder's wheels and builds nothing itself.
    installs = [r for r in runtime.all("RUN") if "pip install" in r]
    assert installs and all("from=builder" in r and "--no-index" in r for r in installs)
    assert runtime.last("HEALTHCHECK") and healthcheck_command(runtime)[0] == "python"
    assert _image_argv() == ["nexasync", "run"]

    # The build context keeps exactly what the builder copies.
    ignored = DOCKERIGNORE.read_text().splitlines()
    assert ignored[ignored.index("*") + 1 :][:3] == ["!pyproject.toml", "!README.md", "!src/"]
    copied = [w for value in builder.all("COPY") for w in value.split()[:-1]]
    assert copied and all((ROOT / c).exists() for c in copied)


def test_deploy_readme_names_every_file() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for path in [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.service"), ENV_EXAMPLE]:
        assert path.name in readme, f"deploy/README.md does not mention {path.name}"
