"""The sandbox emulators in a process of their own, driven over a pipe.

The sync under test runs in yet another process, so the CPU time and peak RSS the
benchmark reads for it are the tool's own, never the emulators'. Seeding and edits go
through the emulators' Python API inside this process (no HTTP, not counted).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Phone numbers the benchmark's edits write: distinct from every seeded one.
ND_PHONE = "+1-555-8{:06d}"
CRM_PHONE = "+1 555 9{:06d}"


class Emulators:
    """Handle on the emulator process: ``call(name, **kw)`` runs a command there."""

    def __init__(self, directory: Path, latency: float, nd_rate_limit: int | None) -> None:
        ctx = mp.get_context("spawn")  # a clean interpreter: no state copied from ours
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, str(directory), latency, nd_rate_limit), daemon=True
        )
        self._proc.start()
        #: crm kind -> the config dict pointing nexasync at these emulators.
        self.configs: dict[str, dict[str, Any]] = self._conn.recv()

    def call(self, name: str, **kw: Any) -> Any:
        self._conn.send((name, kw))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"emulator command {name} failed: {value}")
        return value

    def close(self) -> None:
        try:
            self.call("stop")
        finally:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()

    def __enter__(self) -> Emulators:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- inside the emulator process ---------------------------------------------------------


def _serve(conn: Any, directory: str, latency: float, nd_rate_limit: int | None) -> None:
    from nexasync.sandbox import Sandbox

    box = Sandbox(Path(directory)).start()
    box.nexadesk.rate_limit = nd_rate_limit
    state = {"latency": latency, "nd_429": 0}
    _count_429s(box, state)
    _set_latency(box, latency)
    conn.send({kind: box.config("sqlite://", kind) for kind in ("salesforce", "hubspot")})
    commands: dict[str, Callable[..., Any]] = {
        "reset": lambda: _reset(box, state),
        "seed": lambda **kw: _seed(box, **kw),
        "edit": lambda **kw: _edit(box, **kw),
        "counts": lambda: _counts(box, state),
        "reset_counts": lambda: _reset_counts(box, state),
        "sizes": lambda crm: (len(box.nexadesk.leads()), _crm_size(box, crm)),
    }
    while True:
        name, kw = conn.recv()
        if name == "stop":
            conn.send((True, None))
            break
        try:
            conn.send((True, commands[name](**kw)))
        except Exception as exc:  # report it to the driver instead of dying silently
            conn.send((False, f"{type(exc).__name__}: {exc}"))
    box.stop()


def _count_429s(box: Any, state: dict[str, Any]) -> None:
    """Count the NexaDesk emulator's rate-limit refusals (its counters count requests by
    kind, not by answer)."""
    nd = box.nexadesk
    limited = nd._rate_limited

    def counting() -> float | None:
        wait = limited()
        if wait is not None:
            state["nd_429"] += 1
        return wait

    nd._rate_limited = counting


def _set_latency(box: Any, latency: float) -> None:
    for emulator in (box.nexadesk, box.salesforce, box.hubspot):
        emulator.faults.latency = latency


def _reset(box: Any, state: dict[str, Any]) -> None:
    for emulator in (box.nexadesk, box.salesforce, box.hubspot):
        emulator.reset()  # reset() also clears the faults, so latency is set again
    state["nd_429"] = 0
    _set_latency(box, state["latency"])


def _reset_counts(box: Any, state: dict[str, Any]) -> None:
    for emulator in (box.nexadesk, box.salesforce, box.hubspot):
        emulator.reset_counts()
    state["nd_429"] = 0


def _counts(box: Any, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "nexadesk": dict(box.nexadesk.counts),
        "salesforce": dict(box.salesforce.counts),
        "hubspot": dict(box.hubspot.counts),
        "nexadesk_429": state["nd_429"],
    }


def _crm_size(box: Any, crm: str) -> int:
    return len(box.salesforce.leads() if crm == "salesforce" else box.hubspot.contacts())


def _seed(box: Any, crm: str, nexadesk: int, crm_leads: int, overlap: int) -> None:
    """``nexadesk`` and ``crm_leads`` leads; the first ``overlap`` CRM leads take the email
    of a NexaDesk lead, so the sync must match them instead of creating copies."""
    nd_leads = box.nexadesk.seed(nexadesk, seed=1) if nexadesk else []
    if not crm_leads:
        return
    emulator = box.crm(crm)
    ids = emulator.seed(crm_leads, seed=2)
    emails = [lead["visitor_email"] for lead in nd_leads if lead["visitor_email"]][:overlap]
    if len(emails) < overlap:
        raise ValueError(f"only {len(emails)} NexaDesk leads with an email to overlap")
    for crm_id, email in zip(ids, emails):
        if crm == "salesforce":
            emulator.update_lead(crm_id, Email=email)
        else:
            emulator.update_contact(crm_id, email=email.lower())


def _edit(box: Any, crm: str, count: int) -> dict[str, int]:
    """Change the phone of ``count`` leads with an email on each side, spread evenly, never
    the same person on both sides (that would be one conflict, not two changes)."""
    nd = box.nexadesk
    nd_rows = [r for r in nd.leads() if r["visitor_email"]]
    step = max(1, len(nd_rows) // max(1, count))
    chosen = nd_rows[::step][:count]
    taken = {r["visitor_email"].lower() for r in chosen}
    for i, row in enumerate(chosen):
        nd.update_lead(row["id"], visitor_phone=ND_PHONE.format(i))
    emulator = box.crm(crm)
    if crm == "salesforce":
        crm_rows = [(r["Id"], r.get("Email")) for r in emulator.leads()]
    else:
        crm_rows = [(r["id"], r["properties"].get("email")) for r in emulator.contacts()]
    free = [(i, e) for i, e in crm_rows if e and e.lower() not in taken]
    step = max(1, len(free) // max(1, count))
    edited = free[step // 2 :: step][:count]
    for i, (crm_id, _) in enumerate(edited):
        if crm == "salesforce":
            emulator.update_lead(crm_id, Phone=CRM_PHONE.format(i))
        else:
            emulator.update_contact(crm_id, phone=CRM_PHONE.format(i))
    return {"nexadesk": len(chosen), "crm": len(edited)}
