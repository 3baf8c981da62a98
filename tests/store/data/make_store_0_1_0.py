"""Write the SQL dump of a state store made by nexasync 0.1.0 (see README.md here).

Run it with the 0.1.0 source on the path (commit eb78db8), not the current one:

    mkdir /tmp/oldsrc && git archive eb78db8 | tar -x -C /tmp/oldsrc
    PYTHONPATH=/tmp/oldsrc/src .venv/bin/python tests/store/data/make_store_0_1_0.py \
        tests/store/data/store_0_1_0.sql

Real cycles of two pairs (Salesforce and HubSpot) against the sandbox, with a record
the CRM refuses (then fixed), an edit that fails on a linked lead (pending state) and
a CRM-side delete (propagated by one pair, marked lost by the other), so the store
holds every kind of row the migrations must keep.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from nexasync.config import parse_config
from nexasync.runner import sync_once
from nexasync.sandbox import Sandbox
from nexasync.store.store import StateStore


def main(out: Path) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Sandbox(
            Path(tmp) / "sandbox", seed_nexadesk=6, seed_salesforce=3, seed_hubspot=3, seed=7
        ) as sandbox,
    ):
        db = Path(tmp) / "state.db"
        config = parse_config(
            {
                "state": {"url": f"sqlite:///{db}"},
                "pairs": [
                    sandbox.pair_config("sf", "salesforce"),
                    sandbox.pair_config(
                        "hs",
                        "hubspot",
                        deletes={"nexadesk_to_crm": "mark_lost", "crm_to_nexadesk": "mark_lost"},
                    ),
                ],
            }
        )
        nd = sandbox.nexadesk
        # The CRMs refuse this email format; NexaDesk took it.
        bad = nd.add_lead(
            visitor_name="Bad Email", visitor_email="not-an-email@", pipeline_stage="new"
        )
        store = StateStore(config.state.url)
        try:
            sync_once(config, store)
            linked = next(
                link for link in store.iter_links("sf") if link.nexadesk_id and link.crm_id
            )
            nd.update_lead(linked.nexadesk_id, visitor_email="broken@")
            sandbox.salesforce.delete_lead(
                next(
                    link.crm_id
                    for link in store.iter_links("sf")
                    if link.crm_id and link.id != linked.id
                )
            )
            sync_once(config, store)
            # Fixed at the source: its create error is resolved on the next cycle.
            nd.update_lead(bad["id"], visitor_email="fixed@example.com")
            sync_once(config, store)
        finally:
            store.close()
        conn = sqlite3.connect(db)
        try:
            out.write_text("\n".join(conn.iterdump()) + "\n")
        finally:
            conn.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
