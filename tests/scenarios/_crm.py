"""The CRM side of a scenario, the same for every CRM: leads added, edited and read in
plain terms (name, email, phone, company, stage, description), written in the CRM's
own fields by an independent mapping here — so the tests check the connector's
mapping instead of reusing it."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

_emails = itertools.count(1)


def unique_email(prefix: str = "lead") -> str:
    return f"{prefix}{next(_emails)}@example.com"


class CrmSide:
    kind: str
    #: Request kinds that are authentication, not data.
    auth_kinds: tuple[str, ...] = ()
    #: What this CRM can do beyond the common ground.
    features: frozenset[str] = frozenset()
    #: The most requests an idle cycle may cost on this side.
    idle_requests = 1
    placeholder: str | None = None

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator

    # -- counting -------------------------------------------------------------------
    def reset_counts(self) -> None:
        self.emulator.reset_counts()

    def data_requests(self) -> int:
        return sum(n for kind, n in self.emulator.counts.items() if kind not in self.auth_kinds)

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        self.emulator.clock = clock

    # -- to implement ----------------------------------------------------------------
    def add(self, **lead: Any) -> str: ...
    def update(self, id: str, **lead: Any) -> None: ...
    def delete(self, id: str) -> None: ...
    def get(self, id: str) -> dict[str, Any] | None: ...
    def leads(self) -> list[dict[str, Any]]: ...
    def add_user(self, email: str, name: str) -> str:
        """A CRM user (Salesforce user, HubSpot owner) that leads can be owned by."""
        ...
    def stage_of(self, nd_stage: str) -> str | None:
        """The stage a NexaDesk stage reads back as after a round trip."""
        ...


def _split(name: str) -> tuple[str | None, str]:
    parts = name.rsplit(None, 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


class SalesforceSide(CrmSide):
    kind = "salesforce"
    auth_kinds = ("login", "token")
    features = frozenset({"purge", "convert"})
    placeholder = "[not provided]"
    STATUS_OF = {
        "new": "Open - Not Contacted",
        "assigned": "Open - Not Contacted",
        "qualified": "Working - Contacted",
        "contacted": "Working - Contacted",
        "converted": "Closed - Converted",
        "lost": "Closed - Not Converted",
    }
    STAGE_OF = {
        "Open - Not Contacted": "new",
        "Working - Contacted": "contacted",
        "Closed - Converted": "converted",
        "Closed - Not Converted": "lost",
    }

    def _native(self, lead: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "name" in lead:
            out["FirstName"], out["LastName"] = _split(lead["name"])
        for ours, theirs in (
            ("email", "Email"),
            ("phone", "Phone"),
            ("company", "Company"),
            ("description", "Description"),
        ):
            if ours in lead:
                out[theirs] = lead[ours]
        if "stage" in lead:
            out["Status"] = self.STATUS_OF[lead["stage"]]
        if "owner" in lead:
            out["OwnerId"] = lead["owner"]
        return out

    def add(self, **lead: Any) -> str:
        lead.setdefault("name", "John Doe")
        lead.setdefault("email", unique_email("sf"))
        lead.setdefault("company", "TechCorp")
        lead.setdefault("stage", "new")
        return self.emulator.add_lead(**self._native(lead))

    def update(self, id: str, **lead: Any) -> None:
        self.emulator.update_lead(id, **self._native(lead))

    def delete(self, id: str) -> None:
        self.emulator.delete_lead(id)

    def add_user(self, email: str, name: str) -> str:
        return self.emulator.add_user(email, name)

    def purge(self, id: str) -> None:
        self.emulator.purge(id)

    def convert(self, id: str) -> None:
        self.emulator.convert_lead(id)

    def _plain(self, row: dict[str, Any]) -> dict[str, Any]:
        company = row.get("Company")
        return {
            "id": row["Id"],
            "name": " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p),
            "email": (row.get("Email") or "").lower() or None,
            "phone": row.get("Phone") or None,
            "company": None if company == self.placeholder else (company or None),
            "stage": self.STAGE_OF.get(row.get("Status") or ""),
            "description": row.get("Description") or None,
            "deleted": bool(row.get("IsDeleted")),
            "converted": bool(row.get("IsConverted")),
            "owner": row.get("OwnerId"),
            "name_fits": len(row.get("LastName") or "") <= 80
            and len(row.get("FirstName") or "") <= 40,
        }

    def get(self, id: str) -> dict[str, Any] | None:
        row = self.emulator.get(id)
        return None if row is None else self._plain(row)

    def leads(self) -> list[dict[str, Any]]:
        return [self._plain(row) for row in self.emulator.leads()]

    def stage_of(self, nd_stage: str) -> str | None:
        return self.STAGE_OF[self.STATUS_OF[nd_stage]]


class HubSpotSide(CrmSide):
    kind = "hubspot"
    features = frozenset({"merge"})
    #: A search that finds nothing new, and the archived check.
    idle_requests = 2
    STATUS_OF = {
        "new": "NEW",
        "qualified": "OPEN",
        "assigned": "OPEN",
        "contacted": "CONNECTED",
        "converted": "OPEN_DEAL",
        "lost": "UNQUALIFIED",
    }
    STAGE_OF = {
        "NEW": "new",
        "OPEN": "qualified",
        "IN_PROGRESS": "contacted",
        "ATTEMPTED_TO_CONTACT": "contacted",
        "CONNECTED": "contacted",
        "OPEN_DEAL": "converted",
        "UNQUALIFIED": "lost",
        "BAD_TIMING": "lost",
    }

    def _native(self, lead: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "name" in lead:
            first, last = _split(lead["name"])
            out["firstname"], out["lastname"] = first or "", last
        for ours, theirs in (
            ("email", "email"),
            ("phone", "phone"),
            ("company", "company"),
            ("description", "message"),
        ):
            if ours in lead:
                out[theirs] = lead[ours] if lead[ours] is not None else ""
        if "stage" in lead:
            out["hs_lead_status"] = self.STATUS_OF[lead["stage"]]
        if "owner" in lead:
            out["hubspot_owner_id"] = lead["owner"]
        return out

    def add(self, **lead: Any) -> str:
        lead.setdefault("name", "John Doe")
        lead.setdefault("email", unique_email("hs"))
        lead.setdefault("company", "TechCorp")
        lead.setdefault("stage", "new")
        if lead["email"] is None:
            del lead["email"]
        return self.emulator.add_contact(**self._native(lead))

    def update(self, id: str, **lead: Any) -> None:
        self.emulator.update_contact(id, **self._native(lead))

    def delete(self, id: str) -> None:
        self.emulator.archive_contact(id)

    def add_user(self, email: str, name: str) -> str:
        first, last = _split(name)
        return self.emulator.add_owner(email, first or "", last)

    def merge(self, primary: str, merged: str) -> str:
        return self.emulator.merge(primary, merged)

    def _plain(self, row: dict[str, Any]) -> dict[str, Any]:
        p = row.get("properties") or {}
        first, last = p.get("firstname") or "", p.get("lastname") or ""
        return {
            "id": row["id"],
            "name": " ".join(x for x in (first, last) if x),
            "email": (p.get("email") or "").lower() or None,
            "phone": p.get("phone") or None,
            "company": p.get("company") or None,
            "stage": self.STAGE_OF.get(p.get("hs_lead_status") or ""),
            "description": p.get("message") or None,
            "deleted": bool(row.get("archived")),
            "converted": False,
            "owner": p.get("hubspot_owner_id") or None,
            "name_fits": True,
        }

    def get(self, id: str) -> dict[str, Any] | None:
        row = self.emulator.get(id)
        return None if row is None else self._plain(row)

    def leads(self) -> list[dict[str, Any]]:
        return [self._plain(row) for row in self.emulator.contacts()]

    def stage_of(self, nd_stage: str) -> str | None:
        return self.STAGE_OF[self.STATUS_OF[nd_stage]]
