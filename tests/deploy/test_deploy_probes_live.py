"""The image's HEALTHCHECK command and the Deployment's probes, run against a real
``nexasync run`` (syncing the bundled sandbox), and the SIGTERM stop every deployment
relies on."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from _deploy_files import dockerfile_stages, healthcheck_command, k8s_object, pod_spec
from _sandbox_process import TIMEOUT, env, wait_for

from nexasync.sandbox import Sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_healthcheck_and_probes_against_the_running_service(tmp_path: Path) -> None:
    port = _free_port()
    argv = healthcheck_command(dockerfile_stages()[-1])
    assert argv[0] == "python"
    # The image's command as is, but for the interpreter and the port (the file's own
    # port is checked against the shipped config elsewhere).
    healthcheck = [sys.executable, *(a.replace(":9464/", f":{port}/") for a in argv[1:])]
    assert healthcheck != [sys.executable, *argv[1:]], "HEALTHCHECK does not use port 9464"

    def healthy() -> bool:
        done = subprocess.run(healthcheck, capture_output=True, timeout=30, env=env())
        return done.returncode == 0

    assert not healthy(), "the HEALTHCHECK passes with nothing listening"

    container = pod_spec(k8s_object("Deployment"))["containers"][0]
    probes = [container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")]
    with Sandbox(tmp_path / "sb", seed_nexadesk=2) as box:
        config = box.config(f"sqlite:///{tmp_path / 'state.db'}")
        config["service"] = {"listen": f"127.0.0.1:{port}", "jitter_seconds": 0}
        config_file = tmp_path / "nexasync.yaml"
        config_file.write_text(yaml.safe_dump(config))
        proc = subprocess.Popen(
            [sys.executable, "-m", "nexasync", "--config", str(config_file), "run"],
            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_for(healthy, "the HEALTHCHECK to pass")
            for path in probes:
                wait_for(lambda p=path: _status(f"http://127.0.0.1:{port}{p}") == 200, path)
            assert _status(f"http://127.0.0.1:{port}/nowhere") == 404
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=TIMEOUT)
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert proc.returncode == 0, err
