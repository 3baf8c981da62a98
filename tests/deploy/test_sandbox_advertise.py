"""``nexasync sandbox --host/--advertise-host``: the emulators bound where asked, the
config's URLs naming the advertised host, and the test certificate valid for it, so a
container reaching the sandbox by its service name syncs over verified HTTPS."""

from __future__ import annotations

import re
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from _sandbox_process import nexasync, sandbox_command

from nexasync.config import load_config
from nexasync.sandbox import Sandbox


def _get_over_tls(port: int, server_hostname: str, ca_bundle: Path) -> bytes:
    """One HTTPS request to 127.0.0.1:port, verifying the certificate for
    ``server_hostname``: what a client that resolved that name to this address does."""
    context = ssl.create_default_context(cafile=str(ca_bundle))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:  # noqa: SIM117
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {server_hostname}\r\nConnection: close\r\n\r\n"
                        .encode())  # fmt: skip
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
    return reply


def _created(summary: str) -> dict[str, int]:
    """``{direction: created}`` from ``sync --once``'s summary."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^\s+(\S+->\S+)\s+created (\d+)", summary, re.M)}


def test_advertised_name_is_in_the_urls_and_the_certificate(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "sb", advertise_host="sandbox") as box:
        config = box.config("sqlite:////var/lib/nexasync/x.db")
        crm = config["pairs"][0]["crm"]
        urls = [config["pairs"][0]["nexadesk"]["base_url"], crm["login_url"], box.hubspot_url]
        assert [urlsplit(u).hostname for u in urls] == ["sandbox"] * 3, urls
        port = urlsplit(crm["login_url"]).port
        assert port is not None

        reply = _get_over_tls(port, "sandbox", Path(crm["ca_bundle"]))
        assert reply.startswith(b"HTTP/1.1 "), reply[:100]
        # The default names stay valid, and a name nobody advertised is refused.
        assert _get_over_tls(port, "localhost", Path(crm["ca_bundle"])).startswith(b"HTTP/")
        with pytest.raises(ssl.SSLCertVerificationError):
            _get_over_tls(port, "elsewhere.invalid", Path(crm["ca_bundle"]))


def test_bind_address_is_honoured_and_certified(tmp_path: Path) -> None:
    """Bound to 127.0.0.2 only: nothing answers on 127.0.0.1, and a real sync through the
    127.0.0.2 URLs passes certificate verification (127.0.0.2 is not a default name)."""
    with Sandbox(tmp_path / "sb", host="127.0.0.2", seed_nexadesk=3, seed_salesforce=2) as box:
        for url in (box.nexadesk_url, box.salesforce_url, box.hubspot_url):
            parts = urlsplit(url)
            assert parts.hostname == "127.0.0.2", url
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", parts.port or 0), timeout=5).close()
        config = tmp_path / "nexasync.yaml"
        config.write_text(yaml.safe_dump(box.config(f"sqlite:///{tmp_path / 'state.db'}")))

        result = nexasync("--config", str(config), "sync", "--once")
        assert result.returncode == 0, result.stdout + result.stderr
        assert _created(result.stdout) == {"nexadesk->crm": 3, "crm->nexadesk": 2}, result.stdout


def test_sandbox_command_advertises_and_syncs(tmp_path: Path) -> None:
    args = ["--nexadesk-port", "0", "--salesforce-port", "0", "--hubspot-port", "0",
            "--leads", "4", "--dir", str(tmp_path / "sb"), "--host", "127.0.0.1",
            "--advertise-host", "localhost", "--service-listen", "0.0.0.0:9464"]  # fmt: skip
    with sandbox_command(args) as running:
        assert running.config == (tmp_path / "sb" / "nexasync.yaml").resolve()
        data = yaml.safe_load(running.config.read_text())
        pair = data["pairs"][0]
        assert urlsplit(pair["nexadesk"]["base_url"]).hostname == "localhost"
        assert urlsplit(pair["crm"]["login_url"]).hostname == "localhost"
        assert "http://localhost:" in running.output
        config = load_config(running.config, env={})
        assert config.service.address() == ("0.0.0.0", 9464)

        result = nexasync("--config", str(running.config), "sync", "--once")
        assert result.returncode == 0, result.stdout + result.stderr
        created = _created(result.stdout)
        assert created["nexadesk->crm"] > 0 and created["crm->nexadesk"] > 0, result.stdout


def test_sandbox_command_replaces_a_stale_config(tmp_path: Path) -> None:
    """A config left by an earlier run is replaced, never served again: its CA is gone."""
    folder = tmp_path / "sb"
    folder.mkdir()
    (folder / "nexasync.yaml").write_text("stale: true\n")
    args = ["--nexadesk-port", "0", "--salesforce-port", "0", "--hubspot-port", "0",
            "--leads", "0", "--dir", str(folder)]  # fmt: skip
    with sandbox_command(args) as running:
        assert "stale" not in running.config.read_text()
        assert load_config(running.config, env={}).pairs[0].name == "sandbox"
    assert not (folder / "nexasync.yaml.tmp").exists()
