"""What the client libraries alone cost in CPU per lead, beside the 50 us target.

Each line drives one API call kind of a first sync through the connectors' own
transport (httpx for NexaDesk, simple-salesforce, hubspot-api-client), with bodies
built beforehand, against the emulators (in their own process, no latency) and
measures this process's CPU time per lead. Storing a lead's link (two base snapshots
as JSON) with sqlite3 directly is the state store's floor. No engine work is in any
of these: they are what a sync of these APIs cannot spend less than, in Python with
these libraries.

    .venv/bin/python benchmarks/bench_floor.py [--leads 2000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_emulators import Emulators

from nexasync.config import parse_config
from nexasync.connectors._hs_api import HubSpotApi
from nexasync.connectors._nexadesk_convert import create_body, to_record
from nexasync.connectors._nexadesk_http import LEADS_PATH, Http
from nexasync.connectors._nexadesk_read import pages
from nexasync.connectors._sf_api import SalesforceApi
from nexasync.connectors.hubspot import HubSpotConnector
from nexasync.connectors.salesforce import SalesforceConnector


def cpu_per(leads: int, run: Callable[[], None]) -> float:
    start = time.process_time()
    run()
    return (time.process_time() - start) / leads * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--leads", type=int, default=2000)
    n = p.parse_args(argv).leads
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp, Emulators(Path(tmp), 0.0, None) as emu:
        emu.call("seed", crm="salesforce", nexadesk=n, crm_leads=0, overlap=0)
        sf_pair = parse_config(emu.configs["salesforce"]).pairs[0]
        hs_pair = parse_config(emu.configs["hubspot"]).pairs[0]
        http = Http(sf_pair.nexadesk)
        raw: list[dict[str, Any]] = []
        rows.append(("NexaDesk list pages (GET, 100 a page, JSON)",
                     cpu_per(n, lambda: raw.extend(lead for page in pages(http, "list", {})
                                                   for lead in page.leads))))  # fmt: skip
        leads = [r.fields for r in map(to_record, raw) if r.invalid is None]
        bodies = [create_body(lead) for lead in leads[: n // 4]]
        post = http.client.post  # httpx itself: no retry wrapper, no counting
        create = lambda: [post(LEADS_PATH, json=b) for b in bodies]  # noqa: E731
        rows.append(("NexaDesk create (POST, one a lead)", cpu_per(len(bodies), create)))
        rows.append(("Salesforce sObject Collections upsert (200 a request)",
                     _salesforce(sf_pair, leads)))  # fmt: skip
        rows.append(("HubSpot batch create (100 a request)", _hubspot(hs_pair, leads)))
        rows.append(("sqlite3 executemany: a link row with two JSON snapshots", _sqlite(leads)))
    print(f"{'client library work':<58} {'us CPU/lead':>11}")
    for name, us in rows:
        print(f"{name:<58} {us:>11.1f}")
    print("target: 50 us CPU per lead for the whole sync")
    return 0


def _salesforce(pair: Any, leads: list[dict[str, Any]]) -> float:
    connector = SalesforceConnector(pair.crm)
    external = pair.crm.external_id_field
    records = []
    for i, lead in enumerate(leads):
        values = connector._mapping.write(lead, connector._owners, create=True)
        records.append({"attributes": {"type": "Lead"}, external: f"floor-{i}", **values})
    api: SalesforceApi = connector._api
    api.call(lambda sf: sf.query("SELECT Id FROM Lead LIMIT 1"))  # log in first

    def send() -> None:
        for start in range(0, len(records), 200):
            chunk = records[start : start + 200]
            body = {"allOrNone": False, "records": chunk}
            api.collection("PATCH", f"composite/sobjects/Lead/{external}", body=body,
                           expect=len(chunk))  # fmt: skip

    return cpu_per(len(records), send)


def _hubspot(pair: Any, leads: list[dict[str, Any]]) -> float:
    connector = HubSpotConnector(pair.crm)
    api: HubSpotApi = connector._api
    inputs = [{"properties": connector._mapping.write(lead, connector._owners, create=True)}
              for lead in leads if lead.get("visitor_email")]  # fmt: skip

    def send() -> None:
        for start in range(0, len(inputs), 100):
            api.batch("create", {"inputs": inputs[start : start + 100]})

    return cpu_per(len(inputs), send)


def _sqlite(leads: list[dict[str, Any]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE links (id INTEGER PRIMARY KEY, nd TEXT, crm TEXT, "
                   "base_nd TEXT, base_crm TEXT, at TEXT)")  # fmt: skip
        rows = [(f"n{i}", f"c{i}", lead, lead) for i, lead in enumerate(leads)]

        def store() -> None:
            for start in range(0, len(rows), 200):
                db.executemany(
                    "INSERT INTO links (nd, crm, base_nd, base_crm, at) VALUES (?, ?, ?, ?, ?)",
                    [(nd, crm, json.dumps(a, default=list), json.dumps(b, default=list),
                      "2026-01-01 00:00:00") for nd, crm, a, b in rows[start : start + 200]],
                )  # fmt: skip
                db.commit()

        us = cpu_per(len(rows), store)
        db.close()
        return us


if __name__ == "__main__":
    raise SystemExit(main())
