"""``nexasync check`` for NexaDesk: what the published Leads API lets us verify
without changing anything.

One list request, as the incremental scan sends it (sorted by ``updated_at``),
shows the API answers, the key is accepted and leads may be read; the lead it
returns (when there is one) shows the fields the sync reads are there. The API
documents no permission model and no way to test a write without making one, so
create, update and delete access is reported as not verifiable rather than probed.
"""

from __future__ import annotations

from typing import Any

import httpx

from nexasync.config import NexaDeskConfig
from nexasync.connectors._checks import Findings, key_hint, listed
from nexasync.connectors._nexadesk_convert import parse_ts
from nexasync.connectors._nexadesk_http import LEADS_PATH, Http, error_text
from nexasync.connectors.base import Check
from nexasync.lead import FIELDS

#: What the sync reads from every lead besides the canonical fields.
SYSTEM_FIELDS = ("id", "created_at", "updated_at", "rep_email")
KEY = key_hint("nexadesk", "api_key")


def run_checks(http: Http, config: NexaDeskConfig) -> list[Check]:
    out = Findings("nexadesk")
    body = _list(http, config, out)
    if body is not None:
        _fields(body, out)
        out.ok("create/update/delete access",
               "not verifiable: the Leads API documents no permissions and no dry run; "
               "the accepted key is the one the sync writes with")
    return out.items


def _list(http: Http, config: NexaDeskConfig, out: Findings) -> dict[str, Any] | None:
    where = f"{config.base_url.rstrip('/')}{LEADS_PATH}"
    try:
        # The client as the connector built it (auth, CA bundle, timeout), without the
        # connector's retries: a check reports at once instead of backing off.
        response = http.client.request(
            "GET", LEADS_PATH, params={"limit": 1, "sort": "updated_at:desc"})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        out.fail("reachable", f"cannot reach {where}: {_reason(exc)} (check nexadesk.base_url"
                              f"{', nexadesk.ca_bundle' if _tls(exc) else ''})")
        return None
    status = response.status_code
    if status in (401, 403):
        out.ok("reachable", where)
        out.fail("credentials", f"the API key was refused (HTTP {status}: "
                                f"{error_text(response)}): check {KEY}")
        return None
    if status != 200:
        out.fail("reachable", f"{where} answered HTTP {status} ({error_text(response)})")
        return None
    out.ok("reachable", where)
    out.ok("credentials", "the API key is accepted")
    try:
        body = response.json()
        leads = body["data"]
        total = int(body["pagination"]["total_count"])
        if not isinstance(leads, list):
            raise TypeError("data is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        out.fail("read leads", f"unexpected answer to a list request ({type(exc).__name__}: "
                               f"{exc}): is nexadesk.base_url the Leads API?")
        return None
    out.ok("read leads", f"listing sorted by updated_at works ({total} leads)")
    return body  # type: ignore[no-any-return]


def _fields(body: dict[str, Any], out: Findings) -> None:
    leads = [lead for lead in body["data"] if isinstance(lead, dict)]
    if not leads:
        out.ok("lead fields", "no leads yet: the field names are verified once one exists")
        return
    lead = leads[0]
    missing = [name for name in (*SYSTEM_FIELDS, *FIELDS) if name not in lead]
    if missing:
        out.fail("lead fields", f"leads lack fields the sync reads: {listed(missing)}")
        return
    try:
        parse_ts(lead["updated_at"])
    except ValueError:
        out.fail("lead fields", f"updated_at {lead['updated_at']!r} is not a timestamp: "
                                "changes cannot be found incrementally")
        return
    out.ok("lead fields", f"every synced field is present ({len(FIELDS)} lead fields, "
                          "id, updated_at, rep_email)")


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _tls(exc: Exception) -> bool:
    return "SSL" in str(exc) or "certificate" in str(exc).lower()
