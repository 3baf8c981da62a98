"""The client set-up: base URL and CA bundle reach hubspot-api-client, the token is
sent and never shown, and errors carry HubSpot's reason."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from _hubspot_env import TOKEN, Sandbox
from known_ids import Known

from nexasync.connectors.base import UpdateItem
from nexasync.connectors.hubspot import HubSpotApiError
from nexasync.sandbox._http import TestCA


def test_tls_with_the_configured_ca_bundle(tmp_path: Path) -> None:
    box = Sandbox(TestCA(tmp_path / "ca"))
    try:
        assert box.url.startswith("https://")
        box.contact(lastname="Secure")
        assert [r.fields["visitor_name"] for r in box.connector().pull(None, Known())] == [
            "Secure"]
        # Without the bundle the sandbox's certificate is not trusted.
        untrusting = box.connector(ca_bundle=None)
        with pytest.raises(HubSpotApiError) as info:
            list(untrusting.pull(None, Known()))
        assert not info.value.transient
    finally:
        box.close()


def test_a_wrong_token_fails_without_showing_any_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    box = Sandbox()
    wrong = "pat-na1-wrong-secret-value"
    try:
        caplog.set_level(logging.DEBUG)
        connector = box.connector(access_token=wrong)
        with pytest.raises(HubSpotApiError) as info:
            list(connector.pull(None, Known()))
        assert info.value.status == 401 and not info.value.retryable
        assert "INVALID_AUTHENTICATION" in str(info.value)
        results = connector.update([UpdateItem("1", {"visitor_phone": "1"})])
        assert not results[0].ok
        for text in (str(info.value), repr(info.value), results[0].error or "",
                     caplog.text, repr(connector.config)):
            assert wrong not in text and TOKEN not in text
    finally:
        box.close()


def test_an_unreachable_host_is_a_transient_error(unused_port: int) -> None:
    box = Sandbox()
    try:
        connector = box.connector(base_url=f"http://127.0.0.1:{unused_port}", max_retries=1)
        with pytest.raises(HubSpotApiError) as info:
            list(connector.pull(None, Known()))
        assert info.value.transient and info.value.retryable and not info.value.lost
        assert connector.stats["search"] == 2  # retried once
    finally:
        box.close()


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
