"""Every login simple-salesforce supports, against the emulator over HTTPS, and what
happens when a session expires in the middle of a cycle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _salesforce_env import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    PASSWORD,
    TOKEN,
    USERNAME,
    Sandbox,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from known_ids import Known

from nexasync.config import SalesforceAuth
from nexasync.connectors.salesforce import SalesforceAuthError
from nexasync.sandbox import _http


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> _http.TestCA:
    return _http.TestCA(tmp_path_factory.mktemp("sf-ca"))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def sandbox(ca: _http.TestCA, rsa_key: rsa.RSAPrivateKey) -> Iterator[Sandbox]:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    box = Sandbox(ca, jwt_public_key_pem=public)
    yield box
    box.close()


def _jwt_key_file(tmp_path: Path, key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "server.key"
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return path


def _settings(method: str, sandbox: Sandbox, key_file: Path) -> dict[str, Any]:
    if method == "password":
        return {"auth": SalesforceAuth(username=USERNAME, password=PASSWORD,
                                       security_token=TOKEN)}
    if method == "client_credentials":
        # Salesforce issues client-credentials tokens on the org's My Domain only.
        return {"domain": "nexasync-dev.my", "auth": SalesforceAuth(
            consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET)}
    if method == "jwt":
        return {"domain": "test", "auth": SalesforceAuth(
            username=USERNAME, consumer_key=CONSUMER_KEY, private_key_file=key_file)}
    return {"instance_url": sandbox.url, "login_url": None,
            "auth": SalesforceAuth(session_id=sandbox.emulator.issue_session())}


LOGIN_KIND = {"password": "login", "client_credentials": "token", "jwt": "token", "session": None}


@pytest.mark.parametrize("method", ["password", "client_credentials", "jwt", "session"])
def test_each_auth_method_logs_in_and_reads(
    method: str, sandbox: Sandbox, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    lead = sandbox.lead(LastName="Lovelace", Email="ada@example.com")
    connector = sandbox.connector(**_settings(method, sandbox, _jwt_key_file(tmp_path, rsa_key)))
    assert connector.config.auth.method == method

    records = list(connector.pull(None, Known()))

    assert [(r.id, r.fields["visitor_email"]) for r in records] == [(lead, "ada@example.com")]
    kind = LOGIN_KIND[method]
    assert sandbox.emulator.counts[kind or "login"] == (1 if kind else 0)
    assert connector.stats == sandbox.emulator.counts


@pytest.mark.parametrize("method", ["password", "jwt"])
def test_expired_session_mid_cycle_logs_in_again_and_goes_on(
    method: str, sandbox: Sandbox, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    ids = [sandbox.lead(LastName=f"L{i}") for i in range(450)]
    connector = sandbox.connector(query_batch_size=200,
                                  **_settings(method, sandbox, _jwt_key_file(tmp_path, rsa_key)))
    pull = connector.pull(None, Known())
    records = iter(pull)
    first = next(records)
    sandbox.emulator.expire_sessions()  # between the first and the second page

    rest = list(records)

    assert [first.id, *(r.id for r in rest)] == ids
    assert pull.cursor is not None
    logins = sandbox.emulator.counts["login"] + sandbox.emulator.counts["token"]
    assert logins == 2
    # The page asked with the expired session is refused once, then asked again.
    assert sandbox.emulator.counts["query_more"] == 3


def test_expired_session_id_fails_clearly_without_the_session(sandbox: Sandbox) -> None:
    session = sandbox.emulator.issue_session()
    connector = sandbox.connector(instance_url=sandbox.url, login_url=None,
                                  auth=SalesforceAuth(session_id=session))
    sandbox.lead(LastName="X")
    assert len(list(connector.pull(None, Known()))) == 1
    sandbox.emulator.expire_sessions()

    with pytest.raises(SalesforceAuthError, match="session-id auth cannot log in again") as info:
        list(connector.pull(None, Known()))
    assert session not in str(info.value)


def test_wrong_password_is_reported_without_any_secret(sandbox: Sandbox) -> None:
    connector = sandbox.connector(auth=SalesforceAuth(
        username=USERNAME, password="hunter2-wrong", security_token="tok-secret"))

    with pytest.raises(SalesforceAuthError, match="INVALID_LOGIN") as info:
        list(connector.pull(None, Known()))
    message = str(info.value)
    assert "hunter2-wrong" not in message and "tok-secret" not in message
    assert "hunter2-wrong" not in repr(connector.config)


def test_client_credentials_on_the_generic_login_domain_is_a_clear_error(
    sandbox: Sandbox,
) -> None:
    connector = sandbox.connector(auth=SalesforceAuth(
        consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET))
    with pytest.raises(SalesforceAuthError, match="My Domain"):
        list(connector.pull(None, Known()))
    assert sandbox.emulator.total == 0


def test_a_login_outage_is_retried(sandbox: Sandbox) -> None:
    sandbox.lead(LastName="X")
    sandbox.emulator.faults.add("503", match="login")
    connector = sandbox.connector()
    assert len(list(connector.pull(None, Known()))) == 1
    assert sandbox.emulator.counts["login"] == 2
