"""Secrets never show: not in any byte the real command writes (logs at debug level,
JSON and console alike; output; error messages), nor in the state database.

The emulators accept only known, distinctive credentials, set for every secret the
config takes. The command runs in subprocesses through successes, partial failures
and the paths where libraries like to echo credentials: refused logins, 5xx and 429
answers, unreachable systems, and invalid config files full of secrets.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from _secret_world import (
    SECRETS,
    WRONG,
    Ran,
    SecretWorld,
    all_leaks,
    closed_port,
    nexasync,
    state_files,
    write_yaml,
)
from sqlalchemy import create_engine, text

from nexasync.cli import cli

PG_ENV = "NEXASYNC_TEST_POSTGRES_URL"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SecretWorld]:
    box = SecretWorld(tmp_path / "world")
    yield box
    box.close()


FORMATS = ("json", "console")


class Session:
    """One config and state file; every command run is kept for the final check.

    Runs alternate between JSON and console logs (``first`` picks the first), all at
    debug level, so a test of several runs sees both renderers."""

    def __init__(
        self, world: SecretWorld, tmp_path: Path, first: int = 0, state_url: str = ""
    ) -> None:
        self.world, self.tmp, self._turn = world, tmp_path, first
        self.state = tmp_path / "state.db"
        self.state_url = state_url or f"sqlite:///{self.state}"
        self.config = tmp_path / "nexasync.yaml"
        self.runs: list[Ran] = []

    def write(self, *pairs: dict[str, Any]) -> None:
        write_yaml(self.config, {"state": {"url": self.state_url}, "pairs": list(pairs)})

    def run(self, *args: str) -> Ran:
        fmt = FORMATS[self._turn % 2]
        self._turn += 1
        ran = nexasync(
            "--config", str(self.config), "--log-level", "debug", "--log-format", fmt,
            *args, cwd=self.tmp,
        )  # fmt: skip
        self.runs.append(ran)
        return ran

    def assert_no_leak(self, *extra_files: Path) -> None:
        leaks = all_leaks(self.world, self.runs, [*state_files(self.state), *extra_files])
        assert not leaks, "\n".join(leaks) + "\n\n" + "\n\n".join(map(str, self.runs))


def seed(world: SecretWorld, crm: str, tag: str) -> dict[str, str]:
    """Two good NexaDesk leads, one the CRM refuses (bad email), one CRM lead."""
    nd = world.nexadesk
    ids = {
        f"good{i}": nd.add_lead(
            visitor_name=f"Good Person{i}", visitor_email=f"g{i}-{tag}@acme.example",
            visitor_company="Acme", pipeline_stage="new",
        )["id"]
        for i in range(2)
    }  # fmt: skip
    ids["bad"] = nd.add_lead(visitor_name="Bad Email", visitor_email="not-an-email@",
                             visitor_company="Acme", pipeline_stage="new")["id"]  # fmt: skip
    if crm == "hubspot":
        ids["crm"] = world.hubspot.add_contact(
            firstname="Grace", lastname="Hopper", email=f"grace-{tag}@techcorp.example"
        )
    else:
        ids["crm"] = world.salesforce.add_lead(
            FirstName="Grace", LastName="Hopper", Email=f"grace-{tag}@techcorp.example",
            Company="TechCorp", Status="Open - Not Contacted",
        )  # fmt: skip
    return ids


def crm_section(world: SecretWorld, crm: str) -> dict[str, Any]:
    if crm == "hubspot":
        return world.hubspot_section()
    return world.salesforce_section(crm.removeprefix("salesforce-"))


# -- a normal day: syncs with some failures, and every read-only command ------------------


@pytest.mark.parametrize("crm", ["salesforce-password", "hubspot"])
def test_sync_and_every_command_on_its_state_show_no_secret(
    world: SecretWorld, tmp_path: Path, crm: str
) -> None:
    s = Session(world, tmp_path)
    s.write(world.pair(crm_section(world, crm)))
    ids = seed(world, crm.split("-")[0], "day")

    first = s.run("sync", "--once")
    assert first.code == 1, first  # the bad email failed; the rest synced
    assert b"cycle done" in first.err, first  # the log lines are there to check
    s.run("sync", "--once", "--dry-run")
    s.run("sync", "--once")
    for args in (
        ["status"], ["check"], ["explain", ids["good0"]], ["explain", ids["bad"]],
        ["explain", ids["crm"]], ["errors", "list"], ["errors", "list", "--all"],
        ["errors", "retry", "--all"],
    ):  # fmt: skip
        ran = s.run(*args)
        assert ran.code in (0, 1), ran
        if args == ["errors", "list"]:
            assert ids["bad"].encode() in ran.out, ran
    s.assert_no_leak()


@pytest.mark.parametrize("method", ["client_credentials", "jwt", "session"])
def test_every_salesforce_login_flow_syncs_without_showing_its_secret(
    world: SecretWorld, tmp_path: Path, method: str
) -> None:
    s = Session(world, tmp_path)
    s.write(world.pair(world.salesforce_section(method)))
    seed(world, "salesforce", method)

    ran = s.run("sync", "--once")
    assert ran.code == 1, ran
    assert (
        world.salesforce.counts["collections_upsert"]
        + world.salesforce.counts["collections_create"]
        > 0
    ), dict(world.salesforce.counts)
    s.run("check")
    s.run("status")
    s.assert_no_leak()


def test_help_of_every_command_shows_no_secret(world: SecretWorld, tmp_path: Path) -> None:
    s = Session(world, tmp_path)
    s.write(world.pair(world.salesforce_section()), world.pair(world.hubspot_section(), "hs"))
    paths: list[list[str]] = [[]]
    stack: list[tuple[list[str], Any]] = [([], cli)]
    while stack:
        prefix, group = stack.pop()
        for name, command in group.commands.items():
            paths.append([*prefix, name])
            if hasattr(command, "commands"):
                stack.append(([*prefix, name], command))
    assert ["errors", "retry"] in paths and ["sync"] in paths
    for path in paths:
        ran = s.run(*path, "--help")
        assert ran.code == 0 and ran.out.startswith(b"Usage: "), ran
    assert not list(state_files(s.state)), "help opened the state store"
    s.assert_no_leak()


# -- credentials the systems refuse ------------------------------------------------------


def _wrong(world: SecretWorld, case: str) -> dict[str, Any]:
    if case == "nexadesk-key":
        pair = world.pair(world.salesforce_section())
        pair["nexadesk"]["api_key"] = WRONG["nexadesk.api_key"]
        return pair
    if case == "hubspot-token":
        return world.pair(world.hubspot_section(WRONG["hubspot.access_token"]))
    if case == "salesforce-jwt-key":
        crm = world.salesforce_section("jwt")
        crm["auth"]["private_key_file"] = str(world.wrong_jwt_key_file)
        return world.pair(crm)
    method, key = {
        "salesforce-password": ("password", "password"),
        "salesforce-token": ("password", "security_token"),
        "salesforce-consumer-secret": ("client_credentials", "consumer_secret"),
        "salesforce-session": ("session", "session_id"),
    }[case]
    crm = world.salesforce_section(method)
    crm["auth"][key] = WRONG[f"salesforce.{key}"]
    return world.pair(crm)


@pytest.mark.parametrize(
    "case",
    ["nexadesk-key", "hubspot-token", "salesforce-password", "salesforce-token",
     "salesforce-consumer-secret", "salesforce-session", "salesforce-jwt-key"],
)  # fmt: skip
def test_refused_credentials_are_reported_without_the_credentials(
    world: SecretWorld, tmp_path: Path, case: str
) -> None:
    s = Session(world, tmp_path)
    s.write(_wrong(world, case))
    seed(world, "hubspot" if case.startswith("hubspot") else "salesforce", case)

    ran = s.run("sync", "--once")
    assert ran.code == 3, ran
    assert b"FAILED" in ran.out, ran
    assert s.run("check").code != 0
    s.run("status")
    s.assert_no_leak()


# -- servers that fail: 5xx and 429 on logins, reads and writes ---------------------------

FAULTS = [
    ("salesforce-password", "salesforce", "login", "500"),
    ("salesforce-password", "salesforce", "login", "429"),
    ("salesforce-client_credentials", "salesforce", "token", "503"),
    ("salesforce-jwt", "salesforce", "token", "429"),
    ("salesforce-password", "salesforce", "query", "503"),
    ("salesforce-password", "salesforce", "collections", "500"),
    ("salesforce-password", "nexadesk", "list", "429"),
    ("salesforce-password", "nexadesk", "create", "503"),
    ("hubspot", "hubspot", "search", "500"),
    ("hubspot", "hubspot", "batch_create", "429"),
]


@pytest.mark.parametrize(("crm", "system", "kind", "status"), FAULTS)
def test_server_errors_are_reported_without_credentials(
    world: SecretWorld, tmp_path: Path, crm: str, system: str, kind: str, status: str
) -> None:
    # One logging run per case: the cases take turns at the two log formats.
    s = Session(world, tmp_path, first=FAULTS.index((crm, system, kind, status)))
    s.write(world.pair(crm_section(world, crm)))
    seed(world, crm.split("-")[0], f"{system}-{kind}")
    emulator = {"salesforce": world.salesforce, "nexadesk": world.nexadesk,
                "hubspot": world.hubspot}[system]  # fmt: skip
    emulator.faults.add(status, times=50, match=kind, retry_after=0)

    ran = s.run("sync", "--once")
    assert ran.code != 0, ran
    assert emulator.counts and any(k.startswith(kind) for k in emulator.counts), dict(
        emulator.counts
    )
    emulator.faults.clear()
    s.run("status")
    s.assert_no_leak()


@pytest.mark.parametrize("crm", ["salesforce-password", "salesforce-session", "hubspot", "nd"])
def test_an_unreachable_system_is_reported_without_credentials(
    world: SecretWorld, tmp_path: Path, crm: str
) -> None:
    s = Session(world, tmp_path)
    nowhere = f"http://127.0.0.1:{closed_port()}"
    if crm == "nd":
        pair = world.pair(world.salesforce_section())
        pair["nexadesk"]["base_url"] = nowhere
    elif crm == "hubspot":
        pair = world.pair(world.hubspot_section(base_url=nowhere))
    elif crm == "salesforce-session":
        pair = world.pair(world.salesforce_section("session", instance_url=nowhere))
    else:
        pair = world.pair(world.salesforce_section(login_url=nowhere))
    s.write(pair)

    ran = s.run("sync", "--once")
    assert ran.code == 3, ran
    assert s.run("check").code != 0
    s.assert_no_leak()


# -- invalid config files full of secrets ------------------------------------------------


def _invalid_configs(world: SecretWorld, tmp_path: Path) -> dict[str, Any]:
    """name -> a config (data or raw YAML) that must be refused, each holding secrets."""
    good_sf = world.salesforce_section()
    good_hs = world.hubspot_section()
    nd_key = SECRETS["nexadesk.api_key"]
    secret_file = tmp_path / "token.txt"
    secret_file.write_text(SECRETS["hubspot.access_token"])
    pg = f"postgresql://nexasync:{quote(SECRETS['state.password'], safe='')}@db:5432/x"

    def config(*pairs: dict[str, Any], state: str = "sqlite:///s.db") -> dict[str, Any]:
        return {"state": {"url": state}, "pairs": list(pairs)}

    def with_auth(**auth: Any) -> dict[str, Any]:
        return world.pair({**good_sf, "auth": {**good_sf["auth"], **auth}})

    return {
        "typo-next-to-secret": config(with_auth(pasword=SECRETS["salesforce.password"])),
        "secret-as-list": config(world.pair({**good_hs, "access_token": [nd_key]})),
        "secret-as-mapping": config(with_auth(security_token={"x": nd_key})),
        "number-token": config(world.pair({**good_hs, "access_token": 8675309867530986753})),
        "token-and-file": config(world.pair({**good_hs, "access_token_file": str(secret_file)})),
        "blank-username": config(with_auth(username="")),
        "method-mismatch": config(with_auth(method="jwt")),
        "session-without-instance": config(
            world.pair({**world.salesforce_section("session"), "instance_url": 12})
        ),
        "unknown-crm": config(world.pair({**good_sf, "type": "zoho"})),
        "bad-interval": config(world.pair(good_sf, interval_seconds="often")),
        "bad-state-url": config(world.pair(good_sf), state=pg.replace("5432", "port")),
        "mysql-state": config(world.pair(good_sf), state=pg.replace("postgresql", "mysql")),
        "pair-as-string": config(f"main {nd_key}"),  # type: ignore[arg-type]
        "section-as-string": config({"name": "x", "nexadesk": nd_key, "crm": good_sf}),
        "bad-yaml": (
            f'pairs:\n  - name: x\n    nexadesk:\n      api_key: "{nd_key}\n'
            f"    crm: {{password: '{SECRETS['salesforce.password']}'}}\n"
        ),
        "bad-yaml-tab": f"pairs:\n\t- api_key: {nd_key}\n",
        "not-a-mapping": f"- {nd_key}\n- {SECRETS['salesforce.consumer_secret']}\n",
        "env-unset": (
            f"pairs:\n  - name: x\n    nexadesk: {{api_key: '{nd_key}', base_url: '${{NOPE}}'}}\n"
        ),
    }


def test_invalid_configs_are_refused_without_echoing_secrets(
    world: SecretWorld, tmp_path: Path
) -> None:
    s = Session(world, tmp_path)
    commands = (["sync", "--once"], ["check"], ["status"], ["errors", "list"])
    for i, (name, data) in enumerate(_invalid_configs(world, tmp_path).items()):
        write_yaml(s.config, data)
        ran = s.run(*commands[i % len(commands)])
        assert ran.code == 2, f"{name}: {ran}"
        assert b"Traceback" not in ran.err, f"{name}: {ran}"
    assert not list(state_files(s.state))
    s.assert_no_leak()
    numbers = [r for r in s.runs if b"8675309867530986753" in r.out + r.err]
    assert not numbers, "\n\n".join(map(str, numbers))


# -- PostgreSQL with a password in its URL ------------------------------------------------


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, str]]:
    """(a URL carrying the secret password, the throw-away schema it writes to)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    schema = f"nexasync_secrets_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg2://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    user_host = base.split("://", 1)[1]
    user, host = user_host.split("@", 1)
    password = quote(SECRETS["state.password"], safe="")
    url = f"postgresql://{user}:{password}@{host}?options=-csearch_path%3D{schema}"
    try:
        yield url, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_a_postgresql_password_shows_nowhere(
    world: SecretWorld, tmp_path: Path, pg_schema: tuple[str, str]
) -> None:
    url, schema = pg_schema
    s = Session(world, tmp_path, state_url=url)
    s.write(world.pair(world.salesforce_section()))
    ids = seed(world, "salesforce", "pg")

    assert s.run("sync", "--once").code == 1, s.runs[-1]
    for args in (["status"], ["explain", ids["good0"]], ["errors", "list", "--all"]):
        assert s.run(*args).code == 0, s.runs[-1]

    base = os.environ[PG_ENV].replace("postgresql://", "postgresql+psycopg2://", 1)
    engine = create_engine(base)
    dump = tmp_path / "pg-dump.txt"
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": schema},
        ).scalars()
        rows = [
            str(row)
            for table in list(tables)
            for row in conn.execute(text(f'SELECT t::text FROM "{schema}"."{table}" t'))
        ]
    engine.dispose()
    assert any(ids["good0"] in row for row in rows), "the sync wrote nothing to PostgreSQL"
    dump.write_text("\n".join(rows))

    # The same password, to a server that is not there.
    down = url.replace(url.split("@", 1)[1].split("/", 1)[0], f"127.0.0.1:{closed_port()}")
    s.state_url = down
    s.write(world.pair(world.salesforce_section()))
    assert s.run("sync", "--once").code == 3, s.runs[-1]
    assert s.run("status").code == 3, s.runs[-1]
    s.assert_no_leak(dump)
