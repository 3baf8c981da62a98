"""`nexasync check` as an operator runs it: a subprocess against the sandbox emulators.
A healthy setup exits 0; every problem is a FAIL line that names what to fix (never a
secret) and exits 3; an unreachable system does not stop the other pairs; a bad config
exits 2 before anything is contacted."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from _cli_helpers import SANDBOX_SECRETS, Result, run, write_config, writes

from nexasync.sandbox import Sandbox

HS_TOKEN = "hs_sandbox_token"
SECRETS = (*SANDBOX_SECRETS, HS_TOKEN)


def check(config: Path, *extra: str, secrets: tuple[str, ...] = SECRETS) -> Result:
    return run("--config", str(config), "check", *extra, secrets=secrets)


def section(out: str, pair: str) -> list[str]:
    """The check lines printed under one pair, runs of spaces squeezed to one."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"pair {pair} "))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        body.append(" ".join(line.split()))
    return body


def fails(out: str, pair: str) -> list[str]:
    return [line for line in section(out, pair) if line.startswith("FAIL")]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def both(sandbox: Sandbox, tmp_path: Path, **changes: Any) -> Path:
    """A config with a Salesforce pair ``sf`` and a HubSpot pair ``hs``."""
    sf, hs = sandbox.pair_config("sf"), sandbox.pair_config("hs", "hubspot")
    for name, change in changes.items():
        change({"sf": sf, "hs": hs}[name])
    return write_config(tmp_path / "c.yaml", tmp_path / "state.db", sf, hs)


def test_a_healthy_setup_passes_every_check_for_both_crms(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.nexadesk.seed(3)
    result = check(both(sandbox, tmp_path))
    assert result.code == 0, result
    assert result.out.splitlines()[-1].endswith("checks, 0 problems"), result
    assert "FAIL" not in result.out
    for pair, crm in (("sf", "salesforce"), ("hs", "hubspot")):
        lines = section(result.out, pair)
        systems = {line.split()[1] for line in lines}
        assert systems == {"nexadesk", crm}, lines
        assert any("credentials" in line for line in lines if crm in line)
    assert "field NexaDesk_Tags__c" in result.out and "property nexadesk_tags" in result.out
    assert "OK state opens" in " ".join(result.out.split())
    # Checking changes nothing in any system.
    assert writes(sandbox) == {}
    assert not {k for k in sandbox.hubspot.counts if k.startswith(("batch_", "create"))}


def _wrong_nd_key(pair: dict[str, Any]) -> None:
    pair["nexadesk"]["api_key"] = "nd_wrong_key_value"


def _wrong_sf_password(pair: dict[str, Any]) -> None:
    pair["crm"]["auth"]["password"] = "wrong-password-value"


def _wrong_hs_token(pair: dict[str, Any]) -> None:
    pair["crm"]["access_token"] = "pat-na1-wrong-token-value"


@pytest.mark.parametrize(
    ("pair", "breaks", "secret", "expected"),
    [
        ("sf", _wrong_nd_key, "nd_wrong_key_value",
         "FAIL nexadesk credentials: the API key was refused (HTTP 401"),
        ("sf", _wrong_sf_password, "wrong-password-value",
         "FAIL salesforce credentials: Salesforce login (password) failed: INVALID_LOGIN"),
        ("hs", _wrong_hs_token, "pat-na1-wrong-token-value",
         "FAIL hubspot credentials: HubSpot refused the token (HubSpot 401"),
    ],
    ids=["nexadesk key", "salesforce password", "hubspot token"],
)
def test_refused_credentials_fail_naming_the_key_never_the_secret(
    sandbox: Sandbox, tmp_path: Path, pair: str, breaks: Any, secret: str, expected: str
) -> None:
    config = both(sandbox, tmp_path, **{pair: breaks})
    result = check(config, secrets=(*SECRETS, secret))
    assert result.code == 3, result
    failed = fails(result.out, pair)
    assert len(failed) == 1 and failed[0].startswith(expected), result
    key = {"nd_wrong_key_value": "nexadesk.api_key (or api_key_file)",
           "wrong-password-value": "crm.auth.password (or password_file)",
           "pat-na1-wrong-token-value": "crm.access_token (or access_token_file)"}[secret]
    assert key in failed[0]
    # The other pair is checked all the same, and passes.
    other = "hs" if pair == "sf" else "sf"
    assert section(result.out, other) and not fails(result.out, other), result
    assert result.out.splitlines()[-1].endswith("checks, 1 problem")


def test_missing_custom_field_and_property_fail_naming_them(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    def sf(pair: dict[str, Any]) -> None:
        pair["crm"]["fields"]["tags"] = "Lead_Tags__c"

    def hs(pair: dict[str, Any]) -> None:
        pair["crm"]["fields"]["tags"] = "lead_tags"

    result = check(both(sandbox, tmp_path, sf=sf, hs=hs))
    assert result.code == 3, result
    [sf_fail] = fails(result.out, "sf")
    assert sf_fail.startswith("FAIL salesforce field Lead_Tags__c: tags maps to it"), sf_fail
    [hs_fail] = fails(result.out, "hs")
    assert hs_fail.startswith("FAIL hubspot property lead_tags: tags maps to it"), hs_fail
    assert "crm.fields.tags" in sf_fail and "crm.fields.tags" in hs_fail
    assert result.out.splitlines()[-1].endswith("checks, 2 problems")


def test_a_field_we_write_that_is_read_only_fails(sandbox: Sandbox, tmp_path: Path) -> None:
    def sf(pair: dict[str, Any]) -> None:
        pair["crm"]["fields"]["need_summary"] = "Name"  # Lead.Name is computed

    def hs(pair: dict[str, Any]) -> None:
        pair["crm"]["fields"]["visitor_phone"] = "hs_additional_emails"

    result = check(both(sandbox, tmp_path, sf=sf, hs=hs))
    assert result.code == 3, result
    [sf_fail] = fails(result.out, "sf")
    assert "field Name: need_summary: the sync writes it, but it is read-only" in sf_fail
    [hs_fail] = fails(result.out, "hs")
    assert "property hs_additional_emails: visitor_phone: the sync writes it, but HubSpot " \
           "does not accept writes (calculated)" in hs_fail


def test_an_unreachable_system_fails_clearly_and_the_other_pair_is_checked(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    port = closed_port()

    def down(pair: dict[str, Any]) -> None:
        pair["crm"]["login_url"] = f"https://127.0.0.1:{port}"

    result = check(both(sandbox, tmp_path, sf=down))
    assert result.code == 3, result
    [failed] = fails(result.out, "sf")
    assert failed.startswith(f"FAIL salesforce reachable: cannot reach https://127.0.0.1:{port}")
    assert "crm.login_url" in failed
    assert "Traceback" not in result.err
    # NexaDesk of the same pair and the whole other pair are still checked.
    assert any(line.startswith("OK nexadesk credentials") for line in section(
        result.out, "sf"))
    hs_lines = section(result.out, "hs")
    assert len(hs_lines) > 10 and not fails(result.out, "hs")


def test_pair_option_checks_only_that_pair(sandbox: Sandbox, tmp_path: Path) -> None:
    config = both(sandbox, tmp_path, sf=_wrong_sf_password)
    result = check(config, "--pair", "hs", secrets=(*SECRETS, "wrong-password-value"))
    assert result.code == 0, result
    assert "pair hs " in result.out and "pair sf " not in result.out
    assert sandbox.salesforce.total == 0
    unknown = check(config, "--pair", "nope")
    assert unknown.code == 2 and "no pair named 'nope'" in unknown.err, unknown


def test_a_state_store_that_cannot_be_opened_is_a_failed_check(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "no-such-dir" / "state.db"
    config = write_config(tmp_path / "c.yaml", state, sandbox.pair_config("sf"))
    result = check(config)
    assert result.code == 3, result
    assert "FAIL state opens: cannot open sqlite:///" in " ".join(result.out.split())
    assert "state.url" in result.out
    assert not fails(result.out, "sf"), result  # the pairs are still checked


def test_an_invalid_config_exits_2_naming_the_key_and_contacts_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    def typo(pair: dict[str, Any]) -> None:
        pair["crm"]["extrnal_id_field"] = pair["crm"].pop("external_id_field")

    result = check(both(sandbox, tmp_path, sf=typo))
    assert result.code == 2, result
    assert "pairs[0].crm.extrnal_id_field: unknown key" in result.err
    assert result.out == ""
    assert sandbox.nexadesk.total == sandbox.salesforce.total == sandbox.hubspot.total == 0


def test_help_says_what_is_checked_and_the_exit_codes() -> None:
    result = run("check", "--help")
    assert result.code == 0
    text = " ".join(result.out.split())
    for words in ("credentials", "permissions", "every mapped field or property exists",
                  "Salesforce custom fields", "HubSpot custom properties", "scopes",
                  "0 every check passed", "2 the configuration is invalid",
                  "3 a check failed"):
        assert words in text, words
