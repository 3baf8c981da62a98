"""Known secrets are scrubbed from every part of a log line, in both formats: nested
values, exception objects, tracebacks, encoded forms, and the libraries' own warnings."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import pytest
import structlog

from nexasync import logs

SECRET = "Log&Quokka<Secret>+/=99"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_every_part_of_a_line_is_scrubbed(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("debug", fmt)
    logs.register_secrets([SECRET, None, "ab"])
    log = structlog.get_logger("nexasync.test")
    log.info("nested", detail={"list": [SECRET], "n": 3}, access_token="anything")
    log.warning("an exception object", error=RuntimeError(f"refused {quote(SECRET)}"))
    try:
        raise ValueError(f"login failed for {SECRET}")
    except ValueError:
        log.exception("with traceback")
    logging.getLogger("urllib3.connectionpool").warning("retrying /login?pw=%s", quote(SECRET))
    logging.getLogger("urllib3.connectionpool").info("not shown: below warning")

    err = capsys.readouterr().err
    for text in ("nested", "an exception object", "with traceback", "retrying /login?pw="):
        assert text in err, err
    assert "Traceback" in err and ("'n': 3" in err or '"n": 3' in err), err
    assert "not shown" not in err
    assert "anything" not in err
    assert "Quokka" not in err, err


def test_loading_a_config_registers_every_secret_in_it(tmp_path: Path) -> None:
    from nexasync.cli._app import _load

    path = tmp_path / "nexasync.yaml"
    path.write_text(
        "state: {url: 'postgresql://u:PgPassw0rd-xyz@db/state'}\n"
        "pairs:\n"
        "- name: p\n"
        "  nexadesk: {api_key: ND-key-4711}\n"
        "  crm: {type: hubspot, access_token: HS-token-0815}\n"
    )
    _load(str(path))
    scrubbed = logs.scrub("PgPassw0rd-xyz ND-key-4711 HS-token-0815")
    assert scrubbed == "*** *** ***"
