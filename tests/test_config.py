"""Loading the configuration: the example file, ``${VAR}`` interpolation, secrets
from files, and an error for every kind of bad file that names the key, the value
and what is wrong, without ever showing a secret."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nexasync.config import (
    DEFAULT_SF_FIELDS,
    ConfigError,
    load_config,
    parse_config,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"

# Distinctive, so a leak cannot hide behind a coincidence.
ND_SECRET = "nd_live_Zq8vKx3pW7mT2rY9"
SF_PASSWORD = "Pw-Hx4jR8sQ1vN6bE"
SF_TOKEN = "Tok-Lm5cF2gA9dS3kU"
SF_CONSUMER_SECRET = "Cs-Ye7nB4tV8wJ1pO"
SF_SESSION = "00Dxx0000001gPL!Sess-Wq3rT6yU9iO2pA"
DB_PASSWORD = "Db-Kz2mX5nC8vB1qW"
SECRETS = (ND_SECRET, SF_PASSWORD, SF_TOKEN, SF_CONSUMER_SECRET, SF_SESSION, DB_PASSWORD)

EXAMPLE_ENV = {
    "NEXADESK_API_KEY": ND_SECRET,
    "SF_USERNAME": "sync@acme.example",
    "SF_PASSWORD": SF_PASSWORD,
    "SF_SECURITY_TOKEN": SF_TOKEN,
}


def pair(name: str = "main", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "nexadesk": {"api_key": ND_SECRET},
        "crm": {
            "auth": {
                "username": "sync@acme.example",
                "password": SF_PASSWORD,
                "security_token": SF_TOKEN,
            }
        },
    }
    data.update(overrides)
    return data


def config(*pairs: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"pairs": list(pairs) or [pair()], **top}


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret {secret!r} leaked into: {text}"


def error_of(data: Any, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={} if env is None else env)
    message = str(caught.value)
    assert_no_secret(message)
    assert_no_secret(repr(caught.value))
    return message


def write(tmp_path: Path, text: str, name: str = "nexasync.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- the example file ---------------------------------------------------------------


def test_example_file_loads_with_its_env_vars_set() -> None:
    cfg = load_config(EXAMPLE, env=EXAMPLE_ENV)
    assert cfg.state.url == "sqlite:///nexasync.db"
    (main,) = cfg.pairs
    assert main.name == "main"
    assert main.nexadesk.api_key is not None
    assert main.nexadesk.api_key.get_secret_value() == ND_SECRET
    auth = main.crm.auth
    assert auth.method == "password"
    assert auth.username == "sync@acme.example"
    assert auth.password is not None and auth.password.get_secret_value() == SF_PASSWORD
    assert auth.security_token is not None
    assert auth.security_token.get_secret_value() == SF_TOKEN
    assert main.crm.external_id_field == "NexaDesk_Id__c"
    # Named fields are added to the default mapping, not instead of it.
    assert main.crm.fields["expected_billing_amount"] == "Expected_Amount__c"
    assert main.crm.fields["tags"] == "NexaDesk_Tags__c"
    assert main.crm.fields["visitor_email"] == "Email"
    assert main.rule("assigned_rep_id") == "prefer-crm-unless-blank"
    assert main.rule("visitor_phone") == "two-way"
    assert main.deletes.nexadesk_to_crm == "propagate"
    assert main.deletes.crm_to_nexadesk == "mark_lost"
    assert main.deletes.max_ratio == pytest.approx(0.10)
    assert main.crm.stage_map_back == {
        "Open - Not Contacted": "new",
        "Working - Contacted": "contacted",
        "Closed - Converted": "converted",
        "Closed - Not Converted": "lost",
    }
    assert_no_secret(repr(cfg))
    assert_no_secret(str(cfg))


def test_example_file_without_env_names_the_key_and_the_variable() -> None:
    env = {k: v for k, v in EXAMPLE_ENV.items() if k != "SF_PASSWORD"}
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE, env=env)
    message = str(caught.value)
    assert "pairs[0].crm.auth.password" in message
    assert "SF_PASSWORD" in message
    assert "not set" in message
    assert_no_secret(message)


# -- interpolation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "env", "expected"),
    [
        ("${A}", {"A": "alpha"}, "alpha"),
        ("${A:-fallback}", {}, "fallback"),
        ("${A:-fallback}", {"A": "alpha"}, "alpha"),
        ("${A:-}", {}, ""),
        ("${A:-http://127.0.0.1:8700/x}", {}, "http://127.0.0.1:8700/x"),
        ("https://${HOST}:${PORT:-443}/api", {"HOST": "crm.example"}, "https://crm.example:443/api"),
        ("no variables here", {}, "no variables here"),
        ("$A and $(A) are not variables", {"A": "alpha"}, "$A and $(A) are not variables"),
    ],
)
def test_interpolation(template: str, env: dict[str, str], expected: str) -> None:
    data = config(pair(nexadesk={"api_key": ND_SECRET, "base_url": template}))
    assert parse_config(data, env=env).pairs[0].nexadesk.base_url == expected


def test_interpolated_values_are_then_validated_as_their_key_demands() -> None:
    data = config(pair(interval_seconds="${INTERVAL}"))
    assert parse_config(data, env={"INTERVAL": "60"}).pairs[0].interval_seconds == 60
    message = error_of(data, env={"INTERVAL": "soon"})
    assert "pairs[0].interval_seconds" in message
    assert "'soon'" in message


def test_interpolation_reads_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEXASYNC_TEST_ND_KEY", ND_SECRET)
    data = config(pair(nexadesk={"api_key": "${NEXASYNC_TEST_ND_KEY}"}))
    key = parse_config(data).pairs[0].nexadesk.api_key
    assert key is not None and key.get_secret_value() == ND_SECRET


def test_a_substituted_value_is_not_interpolated_again() -> None:
    data = config(pair(nexadesk={"api_key": "${KEY}"}))
    key = parse_config(data, env={"KEY": "abc${OTHER}def"}).pairs[0].nexadesk.api_key
    assert key is not None and key.get_secret_value() == "abc${OTHER}def"


@pytest.mark.parametrize(
    ("place", "expected_key"),
    [
        (lambda d: d["pairs"][0]["nexadesk"].update(api_key="${MISSING_VAR}"),
         "pairs[0].nexadesk.api_key"),
        (lambda d: d["pairs"][0]["nexadesk"].update(truncate=["source", "x${MISSING_VAR}"]),
         "pairs[0].nexadesk.truncate[1]"),
        (lambda d: d.update(state={"url": "${MISSING_VAR}"}), "state.url"),
    ],
)  # fmt: skip
def test_a_missing_env_var_names_the_key_path(
    place: Callable[[dict[str, Any]], None], expected_key: str
) -> None:
    data = config()
    place(data)
    message = error_of(data)
    assert message.startswith(f"{expected_key}:")
    assert "MISSING_VAR" in message


# -- malformed files: key, value and what is wrong -------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting a dotted path (ints index lists) of the base config."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for part in parents:
            node = node[part]
        node[last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("unknown top-level key", _set("paris", []), ["paris: unknown key", "did you mean pairs?"]),
    ("unknown pair key", _set("pairs.0.interval", 60),
     ["pairs[0].interval: unknown key", "did you mean interval_seconds?"]),
    ("unknown nested key", _set("pairs.0.crm.extrnal_id_field", "X__c"),
     ["pairs[0].crm.extrnal_id_field: unknown key", "external_id_field"]),
    ("unknown key far from any", _set("pairs.0.deletes", {"zzz": 1}),
     ["pairs[0].deletes.zzz: unknown key", "nexadesk_to_crm", "max_ratio"]),
    ("wrong type", _set("pairs.0.interval_seconds", "often"),
     ["pairs[0].interval_seconds", "'often'", "integer"]),
    ("out of range", _set("pairs.0.interval_seconds", 5),
     ["pairs[0].interval_seconds", "(got 5)", "greater than or equal to 10"]),
    ("ratio above one", _set("pairs.0.deletes", {"max_ratio": 1.5}),
     ["pairs[0].deletes.max_ratio", "1.5", "less than or equal to 1"]),
    ("section that is not a mapping", _set("pairs.0.deletes", "propagate"),
     ["pairs[0].deletes", "expected a mapping, got a str"]),
    ("pairs that is not a list", _set("pairs", {"name": "x"}),
     ["pairs", "expected a list, got a mapping"]),
    ("bad sync rule", _set("pairs.0.rules", {"pipeline_stage": "one-way"}),
     ["pairs[0].rules.pipeline_stage", "'one-way'", "two-way", "prefer-crm-unless-blank"]),
    ("unknown lead field in rules", _set("pairs.0.rules", {"stage": "two-way"}),
     ["pairs[0].rules", "'stage' is not a lead field", "pipeline_stage"]),
    ("bad delete policy", _set("pairs.0.deletes", {"crm_to_nexadesk": "destroy"}),
     ["pairs[0].deletes.crm_to_nexadesk", "'destroy'", "propagate", "mark_lost"]),
    ("unknown lead field in nexadesk.truncate",
     _set("pairs.0.nexadesk.truncate", ["visitor_name", "notes"]),
     ["pairs[0].nexadesk.truncate", "'notes' is not a lead field"]),
    ("unknown lead field in crm.truncate", _set("pairs.0.crm.truncate", ["company"]),
     ["pairs[0].crm.truncate", "'company' is not a lead field"]),
    ("unknown lead field in crm.fields", _set("pairs.0.crm.fields", {"amount": "Amount__c"}),
     ["pairs[0].crm.fields", "'amount' is not a lead field", "expected_billing_amount"]),
    ("visitor_name in crm.fields", _set("pairs.0.crm.fields", {"visitor_name": "Name"}),
     ["pairs[0].crm.fields", "visitor_name", "FirstName/LastName"]),
    ("bad stage in stage_map", _set("pairs.0.crm.stage_map", {"won": "Closed - Converted"}),
     ["pairs[0].crm.stage_map", "'won' is not a NexaDesk stage", "qualified"]),
    ("bad stage in stage_map_back", _set("pairs.0.crm.stage_map_back", {"Nurture": "won"}),
     ["pairs[0].crm.stage_map_back", "Nurture", "'won' is not a NexaDesk stage"]),
    ("bad crm type", _set("pairs.0.crm.type", "zoho"),
     ["pairs[0].crm.type", "'zoho'", "salesforce"]),
    ("bad auth method", _set("pairs.0.crm.auth.method", "oauth"),
     ["pairs[0].crm.auth.method", "'oauth'", "client_credentials"]),
    ("bad pair name", _set("pairs.0.name", "main pair"), ["pairs[0].name", "'main pair'"]),
    ("missing pair name", _drop("pairs.0.name"), ["pairs[0].name: required key is missing"]),
    ("missing crm section", _drop("pairs.0.crm"), ["pairs[0].crm: required key is missing"]),
    ("missing nexadesk key", _set("pairs.0.nexadesk", {"base_url": "https://x.example"}),
     ["pairs[0].nexadesk", "api_key (or api_key_file) is required"]),
    ("empty nexadesk key", _set("pairs.0.nexadesk", {"api_key": "  "}),
     ["pairs[0].nexadesk", "api_key (or api_key_file) is required"]),
    ("no crm credentials", _set("pairs.0.crm.auth", {"username": "u@acme.example"}),
     ["pairs[0].crm.auth", "no credentials", "username+password"]),
    ("password method without password",
     _set("pairs.0.crm.auth", {"method": "password", "username": "u@acme.example"}),
     ["pairs[0].crm.auth", "method 'password' needs password"]),
    ("jwt without a key file",
     _set("pairs.0.crm.auth", {"method": "jwt", "username": "u", "consumer_key": "ck"}),
     ["pairs[0].crm.auth", "method 'jwt' needs private_key_file"]),
    ("duplicate pair names", lambda d: d["pairs"].append(pair("main")),
     ["pairs", "unique", "main"]),
    ("no pairs", _set("pairs", []), ["pairs", "at least 1"]),
    ("no pairs key", _drop("pairs"), ["pairs: required key is missing"]),
    ("missing ca bundle", _set("pairs.0.crm.ca_bundle", "/nonexistent/ca.pem"),
     ["pairs[0].crm.ca_bundle", "cannot read /nonexistent/ca.pem"]),
    ("state that is not a mapping", _set("state", "sqlite:///x.db"),
     ["state", "expected a mapping, got a str"]),
    ("unsupported state store", _set("state", {"url": "mysql://u@db.example/sync"}),
     ["state.url", "sqlite:/// or postgresql://", "mysql"]),
    ("state url that is no url", _set("state", {"url": "not a url"}),
     ["state.url", "not a valid database URL"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "expected"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_config_names_key_value_and_problem(
    mutate: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    data = copy.deepcopy(config())
    mutate(data)
    message = error_of(data)
    for part in expected:
        assert part in message, f"{part!r} not in: {message}"


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    data = config(
        pair(interval_seconds=1, deletes={"nexadesk_to_crm": "nuke"}),
        pair("second", rules={"tags": "sometimes"}),
    )
    message = error_of(data)
    assert "pairs[0].interval_seconds" in message
    assert "pairs[0].deletes.nexadesk_to_crm" in message
    assert "pairs[1].rules.tags" in message


def test_a_file_problem_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, yaml.safe_dump(config(pair(interval_seconds="x"))))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert "pairs[0].interval_seconds" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f'pairs:\n  - name: a\n    nexadesk:\n      api_key: "{ND_SECRET}\n', "line 4"),
        (f"pairs:\n  - name: a\n\tnexadesk: {{api_key: {ND_SECRET}}}\n", "line 3"),
        (f"pairs: [{{name: a, nexadesk: {{api_key: {ND_SECRET}, : x}}}}\n", "line 1"),
    ],
    ids=["unterminated quote", "tab indent", "broken flow mapping"],
)
def test_not_yaml_says_where_without_quoting_the_line(
    tmp_path: Path, text: str, where: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "not valid YAML" in message
    assert where in message
    assert_no_secret(message)


@pytest.mark.parametrize(
    "text", ["", "# only a comment\n", "- a\n- b\n", "just a string\n", "42\n"]
)
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert "must be a mapping" in str(caught.value)


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert f"cannot read config {missing}" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)  # a directory
    assert f"cannot read config {tmp_path}" in str(caught.value)


# -- secrets ------------------------------------------------------------------------------


def test_secrets_from_files(tmp_path: Path) -> None:
    files = {
        "nd": ND_SECRET + "\n",
        "pw": SF_PASSWORD + "\n",
        "tok": f"  {SF_TOKEN}\n",
        "cs": SF_CONSUMER_SECRET,
        "sess": SF_SESSION + "\r\n",
    }
    for name, text in files.items():
        write(tmp_path, text, name)
    data = config(
        pair("pw", nexadesk={"api_key_file": str(tmp_path / "nd")},
             crm={"auth": {"username": "u@acme.example", "password_file": str(tmp_path / "pw"),
                           "security_token_file": str(tmp_path / "tok")}}),
        pair("cc", crm={"auth": {"consumer_key": "ck",
                                 "consumer_secret_file": str(tmp_path / "cs")}}),
        pair("sess", crm={"instance_url": "https://acme.my.salesforce.com",
                          "auth": {"session_id_file": str(tmp_path / "sess")}}),
    )  # fmt: skip
    cfg = parse_config(data, env={})
    pw, cc, sess = cfg.pairs
    assert pw.nexadesk.api_key is not None
    assert pw.nexadesk.api_key.get_secret_value() == ND_SECRET
    assert pw.crm.auth.method == "password"
    assert pw.crm.auth.password is not None
    assert pw.crm.auth.password.get_secret_value() == SF_PASSWORD
    assert pw.crm.auth.security_token is not None
    assert pw.crm.auth.security_token.get_secret_value() == SF_TOKEN
    assert cc.crm.auth.method == "client_credentials"
    assert cc.crm.auth.consumer_secret is not None
    assert cc.crm.auth.consumer_secret.get_secret_value() == SF_CONSUMER_SECRET
    assert sess.crm.auth.method == "session"
    assert sess.crm.auth.session_id is not None
    assert sess.crm.auth.session_id.get_secret_value() == SF_SESSION
    for shown in (repr(cfg), str(cfg), cfg.model_dump_json(), repr(cfg.model_dump())):
        assert_no_secret(shown)


def test_jwt_needs_a_readable_private_key(tmp_path: Path) -> None:
    key = write(tmp_path, "-----BEGIN PRIVATE KEY-----\n", "key.pem")
    auth = {"username": "u@acme.example", "consumer_key": "ck", "private_key_file": str(key)}
    cfg = parse_config(config(pair(crm={"auth": auth})), env={})
    assert cfg.pairs[0].crm.auth.method == "jwt"
    auth["private_key_file"] = str(tmp_path / "missing.pem")
    message = error_of(config(pair(crm={"auth": auth})))
    assert "private_key_file" in message
    assert str(tmp_path / "missing.pem") in message


def test_unreadable_secret_file_names_key_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    message = error_of(config(pair(nexadesk={"api_key_file": str(missing)})))
    assert "pairs[0].nexadesk" in message
    assert f"api_key_file: cannot read {missing}" in message


def test_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    empty = write(tmp_path, "\n", "empty")
    auth = {"username": "u@acme.example", "password_file": str(empty)}
    message = error_of(config(pair(crm={"auth": auth})))
    assert "pairs[0].crm.auth" in message
    assert f"password_file: {empty} is empty" in message


def test_secret_and_secret_file_together(tmp_path: Path) -> None:
    key_file = write(tmp_path, ND_SECRET, "nd")
    both = {"api_key": "nd_other_value_123", "api_key_file": str(key_file)}
    message = error_of(config(pair(nexadesk=both)))
    assert "api_key and api_key_file are both set" in message
    assert "nd_other_value_123" not in message
    # An empty value stands aside, so `${VAR:-}` can sit next to a *_file key.
    either = {"api_key": "${ND_KEY:-}", "api_key_file": str(key_file)}
    key = parse_config(config(pair(nexadesk=either)), env={}).pairs[0].nexadesk.api_key
    assert key is not None and key.get_secret_value() == ND_SECRET


@pytest.mark.parametrize(
    "mutate",
    [
        _set("pairs.0.nexadesk.api_key", 7351982640),
        _set("pairs.0.nexadesk.api_key", [ND_SECRET]),
        _set("pairs.0.crm.auth.password", {"value": SF_PASSWORD}),
        _set("pairs.0.crm.auth.security_token", [SF_TOKEN]),
        _set("pairs.0.crm.auth", f"{SF_PASSWORD}{SF_TOKEN}"),
        _set("pairs.0.nexadesk", ND_SECRET),
        _set("pairs.0.crm.auth.passwd", SF_PASSWORD),
        _set("pairs.0.nexadesk.apikey", ND_SECRET),
        _set("pairs.0.crm.auth.session_id", 1.5),
        _set("state", f"postgresql://sync:{DB_PASSWORD}@db.example/sync"),
        _set("state", {"url": f"mysql://sync:{DB_PASSWORD}@db.example/sync"}),
        _set("state", {"url": f"postgresql://sync:{DB_PASSWORD}@db.example/sync", "x": 1}),
    ],
)
def test_secrets_misplaced_or_mistyped_are_not_echoed(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    data = copy.deepcopy(config())
    mutate(data)
    message = error_of(data)  # which asserts the message shows none of the secrets
    assert "7351982640" not in message


def test_state_url_password_is_masked_in_repr() -> None:
    url = f"postgresql://sync:{DB_PASSWORD}@db.example:5432/sync"
    cfg = parse_config(config(state={"url": url}), env={})
    assert cfg.state.url == url  # the store still gets the real one
    assert_no_secret(repr(cfg))
    assert "db.example" in repr(cfg.state)


# -- several pairs --------------------------------------------------------------------------


def test_several_pairs_in_one_config() -> None:
    data = config(
        pair("eu", interval_seconds=60, rules={"visitor_phone": "always-crm"},
             deletes={"crm_to_nexadesk": "ignore"}),
        pair("us", nexadesk={"api_key": "${US_KEY}", "base_url": "https://us.nexadesk.example"},
             crm={"domain": "test", "auth": {"username": "u", "password": "${US_PW}"},
                  "stage_map": {"qualified": "Qualified"}}),
    )  # fmt: skip
    cfg = parse_config(data, env={"US_KEY": "nd_us_key_1", "US_PW": "us-pw-1"})
    assert [p.name for p in cfg.pairs] == ["eu", "us"]
    eu, us = cfg.pair("eu"), cfg.pair("us")
    assert eu.interval_seconds == 60 and us.interval_seconds == 300
    assert eu.rule("visitor_phone") == "always-crm" and us.rule("visitor_phone") == "two-way"
    assert eu.deletes.crm_to_nexadesk == "ignore" and us.deletes.crm_to_nexadesk == "propagate"
    assert us.nexadesk.base_url == "https://us.nexadesk.example"
    assert eu.nexadesk.base_url == "https://chats.nexadesk.ai"
    assert us.nexadesk.api_key is not None
    assert us.nexadesk.api_key.get_secret_value() == "nd_us_key_1"
    assert us.crm.domain == "test" and eu.crm.domain == "login"
    # A status of one's own goes both ways; the other pair keeps the standard picklist.
    assert us.crm.stage_map["qualified"] == "Qualified"
    assert us.crm.stage_map_back is not None and us.crm.stage_map_back["Qualified"] == "qualified"
    assert eu.crm.stage_map["qualified"] == "Working - Contacted"
    assert eu.crm.fields == DEFAULT_SF_FIELDS
    with pytest.raises(ConfigError) as caught:
        cfg.pair("apac")
    assert "'apac'" in str(caught.value) and "eu, us" in str(caught.value)


def test_config_is_frozen() -> None:
    cfg = parse_config(config(), env={})
    with pytest.raises(ValueError):
        cfg.pairs[0].interval_seconds = 5  # type: ignore[misc]

