"""Emulators that accept only known, distinctive secrets; configs that carry every
secret the config supports; the real ``nexasync`` run in a subprocess; and a check
that no secret, in any encoding a library might use, shows anywhere.

Each secret holds a marker word found nowhere else, so even a partial leak (a
truncated or half-masked value) shows up.
"""

from __future__ import annotations

import base64
import html
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from nexasync.sandbox import ServerThread, TestCA
from nexasync.sandbox.hubspot import HubSpotEmulator
from nexasync.sandbox.nexadesk import NexaDeskEmulator
from nexasync.sandbox.salesforce import SalesforceEmulator

SF_USER, SF_CONSUMER_KEY = "integration@acme.example", "acme-consumer-key"
#: name -> value, for every secret the config takes. Characters that URL, XML, JSON
#: and base64 encode differently are in them on purpose.
SECRETS = {
    "nexadesk.api_key": "ndk-Aardvark+Key/Secret=71",
    "salesforce.password": "Pw&Bellflower<Secret>38",
    "salesforce.security_token": "TokCassowarySecret52",
    "salesforce.consumer_secret": "Cs+Dragonfruit/Secret=64",
    "salesforce.session_id": "00D000000000001!EchidnaSessionSecret93",
    "hubspot.access_token": "pat-na1-Flamingo+Token/Secret=27",
    "state.password": "Pg+Gazelle/Secret=45",
}
#: Wrong values an operator might configure: secrets all the same.
WRONG = {
    "nexadesk.api_key": "ndk-Hyena+Wrong/Key=12",
    "salesforce.password": "Pw&Iguana<Wrong>13",
    "salesforce.security_token": "TokJackalWrong14",
    "salesforce.consumer_secret": "Cs+Kookaburra/Wrong=15",
    "salesforce.session_id": "00D000000000001!LemurWrongSession16",
    "hubspot.access_token": "pat-na1-Mongoose+Wrong/Token=17",
}
MARKERS = ("Aardvark", "Bellflower", "Cassowary", "Dragonfruit", "Echidna", "Flamingo",
           "Gazelle", "Hyena", "Iguana", "Jackal", "Kookaburra", "Lemur", "Mongoose")  # fmt: skip
TIMEOUT = 90


def encodings(secret: str) -> set[str]:
    """The secret as it may travel: raw, URL-, XML-, JSON-escaped, base64."""
    raw = secret.encode()
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        html.escape(secret),
        json.dumps(secret)[1:-1],
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SecretWorld:
    """The three emulators over loopback, each accepting only the secrets above."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.ca = TestCA(directory)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwt_key_file = directory / "jwt.key"
        self.jwt_key_file.write_bytes(_pem(key))
        self.wrong_jwt_key_file = directory / "wrong-jwt.key"
        self.wrong_jwt_key_file.write_bytes(
            _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.nexadesk = NexaDeskEmulator(SECRETS["nexadesk.api_key"])
        self.salesforce = SalesforceEmulator(
            username=SF_USER,
            password=SECRETS["salesforce.password"],
            security_token=SECRETS["salesforce.security_token"],
            consumer_key=SF_CONSUMER_KEY,
            consumer_secret=SECRETS["salesforce.consumer_secret"],
            jwt_public_key_pem=public,
        )
        with self.salesforce._lock:  # a session handed over by an admin, as session auth uses
            self.salesforce.auth.sessions.add(SECRETS["salesforce.session_id"])
        self.hubspot = HubSpotEmulator(SECRETS["hubspot.access_token"])
        self._servers = [
            ServerThread(self.nexadesk).start(),
            ServerThread(self.salesforce, ca=self.ca).start(),
            ServerThread(self.hubspot).start(),
        ]
        self.nexadesk_url, self.salesforce_url, self.hubspot_url = (s.url for s in self._servers)

    def close(self) -> None:
        for server in self._servers:
            server.stop()

    # -- what must never show ----------------------------------------------------------
    def secrets(self) -> list[str]:
        """Every configured secret (right and wrong), the private keys, and the session
        tokens Salesforce issued so far."""
        values = [*SECRETS.values(), *WRONG.values(), *self.salesforce.auth.sessions]
        for path in (self.jwt_key_file, self.wrong_jwt_key_file):
            pem = path.read_text()
            values.append(pem)
            # Any one line of the key's body is a leak of the key.
            values += [line for line in pem.splitlines() if not line.startswith("-----")]
        basic = f"{SF_CONSUMER_KEY}:{SECRETS['salesforce.consumer_secret']}"
        return [*values, basic]

    def find_leaks(self, data: bytes | str, where: str) -> list[str]:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        leaks = [
            f"{where}: secret {secret[:12]!r}... as {form!r}"
            for secret in self.secrets()
            for form in encodings(secret)
            if form in text
        ]
        leaks += [f"{where}: marker {m!r}" for m in MARKERS if m in text]
        return leaks

    # -- configs -----------------------------------------------------------------------
    def nexadesk_section(self, api_key: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "base_url": self.nexadesk_url,
            "api_key": api_key or SECRETS["nexadesk.api_key"],
            "max_retries": 0,
            "timeout": 10,
            **extra,
        }

    def salesforce_section(self, method: str = "password", **extra: Any) -> dict[str, Any]:
        auth: dict[str, Any] = {
            "password": {
                "username": SF_USER,
                "password": SECRETS["salesforce.password"],
                "security_token": SECRETS["salesforce.security_token"],
            },
            "client_credentials": {
                "consumer_key": SF_CONSUMER_KEY,
                "consumer_secret": SECRETS["salesforce.consumer_secret"],
            },
            "jwt": {
                "username": SF_USER,
                "consumer_key": SF_CONSUMER_KEY,
                "private_key_file": str(self.jwt_key_file),
            },
            "session": {"session_id": SECRETS["salesforce.session_id"]},
        }[method]
        section: dict[str, Any] = {
            "type": "salesforce",
            "login_url": self.salesforce_url,
            "ca_bundle": str(self.ca.ca_bundle),
            "auth": {"method": method, **auth},
            "external_id_field": "NexaDesk_Id__c",
            "fields": {"expected_billing_amount": "Expected_Amount__c", "tags": "NexaDesk_Tags__c"},
            "max_retries": 0,
            "timeout": 10,
        }
        if method == "client_credentials":
            section["domain"] = "acme-dev.my"  # tokens come from the org's My Domain only
        if method == "session":
            section["instance_url"] = self.salesforce_url
            del section["login_url"]
        section.update(extra)
        return section

    def hubspot_section(self, token: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "type": "hubspot",
            "base_url": self.hubspot_url,
            "access_token": token or SECRETS["hubspot.access_token"],
            "fields": {
                "source": "nexadesk_source",
                "expected_billing_amount": "nexadesk_amount",
                "tags": "nexadesk_tags",
            },
            "max_retries": 0,
            "timeout": 10,
            **extra,
        }

    def pair(self, crm: dict[str, Any], name: str = "main", **extra: Any) -> dict[str, Any]:
        return {"name": name, "nexadesk": self.nexadesk_section(), "crm": crm, **extra}


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class Ran:
    args: tuple[str, ...]
    code: int
    out: bytes
    err: bytes

    def __str__(self) -> str:
        out, err = (b.decode("utf-8", "replace") for b in (self.out, self.err))
        return f"nexasync {' '.join(self.args)} -> {self.code}\n{out}\n--- stderr\n{err}"


def nexasync(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Ran:
    """The installed command, as an operator runs it, with every byte it writes kept."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEXASYNC_")}
    proc = subprocess.run(
        [sys.executable, "-m", "nexasync", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        timeout=TIMEOUT,
    )
    return Ran(tuple(args), proc.returncode, proc.stdout, proc.stderr)


def state_files(state: Path) -> Iterator[Path]:
    """The SQLite file and its -wal / -shm / -journal companions."""
    yield from sorted(state.parent.glob(state.name + "*"))


def all_leaks(world: SecretWorld, runs: Iterable[Ran], files: Iterable[Path]) -> list[str]:
    leaks: list[str] = []
    for ran in runs:
        where = f"nexasync {' '.join(ran.args)}"
        leaks += world.find_leaks(ran.out, f"{where} (stdout)")
        leaks += world.find_leaks(ran.err, f"{where} (stderr)")
    for path in files:
        leaks += world.find_leaks(path.read_bytes(), str(path))
    return leaks
