"""The HubSpot emulator's data: owners and contacts (live, archived, merged away), with
the rules every write obeys whichever endpoint made it: validation, unique emails,
the forward-only lifecycle stage, and merges."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from nexasync.sandbox._hs_errors import HsError, bad_request, conflict, invalid, not_found
from nexasync.sandbox._hs_schema import (
    ALWAYS,
    DEFAULT_PROPERTIES,
    Prop,
    lifecycle_rank,
    ms,
    ts,
)
from nexasync.sandbox._hs_values import check

#: New contacts get this stage unless the write names one.
DEFAULT_LIFECYCLE = "lead"
#: How many answers :meth:`Store.memo` keeps at once (a sync pages a few queries at a time).
MEMO_SIZE = 8
T = TypeVar("T")


@dataclass
class Contact:
    id: str
    props: dict[str, str]  # set values only; the computed ones are added when rendered
    created: datetime
    updated: datetime
    archived_at: datetime | None = None
    merged_into: str | None = None
    merged_ids: list[str] = field(default_factory=list)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def email(self) -> str | None:
        return self.props.get("email")


class Store:
    def __init__(self, props: dict[str, Prop], clock: Callable[[], datetime]) -> None:
        self.props = props
        self.clock = clock
        self.contacts: dict[str, Contact] = {}
        self.owners: dict[str, dict[str, Any]] = {}
        # Live contacts by every email they answer to (primary and merged-in ones).
        self._emails: dict[str, str] = {}
        self._keys: dict[str, list[str]] = {}  # contact id -> its keys in _emails
        self._next_id = 100
        self._next_owner = 70_000_000
        #: When the account was set up: the property definitions' timestamps.
        self.created = self.now()
        #: While the search index lags (see :meth:`hold_search_index`): what search still
        #: shows of each contact written since, None for one it does not show yet.
        self._unindexed: dict[str, Contact | None] | None = None
        #: Goes up with every change search or listing could see; see :meth:`memo`.
        self.version = 0
        self._memo: dict[Hashable, Any] = {}

    def touch(self) -> None:
        """The contacts changed: answers kept by :meth:`memo` are stale. The write methods
        call it; whoever edits contacts directly (seeding, bulk stamps) must too."""
        self.version += 1
        self._memo.clear()

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s answer, kept until the next :meth:`touch`: paging through one
        query scans the contacts once, not once a page."""
        if key not in self._memo:
            if len(self._memo) >= MEMO_SIZE:
                del self._memo[next(iter(self._memo))]
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    def now(self) -> datetime:
        return ms(self.clock())

    # -- owners -----------------------------------------------------------------------
    def add_owner(self, email: str, first: str = "", last: str = "", active: bool = True) -> str:
        self._next_owner += 1
        owner_id, now = str(self._next_owner), ts(self.now())
        user_id = 9_000_000 + self._next_owner % 1_000_000
        self.owners[owner_id] = {
            "id": owner_id, "email": email, "type": "PERSON", "firstName": first,
            "lastName": last, "userId": user_id if active else None,
            "userIdIncludingInactive": user_id, "createdAt": now, "updatedAt": now,
            "archived": not active, "teams": [],
        }
        return owner_id

    def owner_ids(self) -> set[str]:
        """Owners a contact may be assigned to: the active ones."""
        return {i for i, o in self.owners.items() if not o["archived"]}

    # -- lookups ----------------------------------------------------------------------
    def find(self, id_: str, archived: bool = False) -> Contact | None:
        """The contact an id names, following merges to the survivor."""
        contact = self.contacts.get(str(id_).strip())
        while contact is not None and contact.merged_into is not None:
            contact = self.contacts.get(contact.merged_into)
        if contact is None or contact.archived != archived:
            return None
        return contact

    def by_email(self, email: str, archived: bool = False) -> Contact | None:
        key = str(email).strip().casefold()
        if not archived:
            found = self._emails.get(key)
            return self.contacts[found] if found else None
        return next((c for c in self.rows(archived=True)
                     if (c.email or "").casefold() == key), None)

    def email_owner(self, email: str) -> str | None:
        return self._emails.get(email.strip().casefold())

    def rows(self, archived: bool = False) -> list[Contact]:
        """Contacts in id order (ids grow with insertion, so the dict is in that order)."""
        return [c for c in self.contacts.values()
                if c.merged_into is None and c.archived == archived]

    def search_rows(self) -> list[Contact]:
        """The live contacts as the search index has them, in id order."""
        if self._unindexed is None:
            return self.rows()
        views = (self._unindexed.get(c.id) if c.id in self._unindexed else c
                 for c in self.contacts.values())
        return [v for v in views if v is not None and v.merged_into is None and not v.archived]

    # -- the search index's lag -------------------------------------------------------
    def hold_search_index(self) -> None:
        """HubSpot indexes writes for search asynchronously: until
        :meth:`release_search_index`, search shows contacts as they were now (a contact
        created meanwhile not at all), while every other endpoint sees the writes."""
        if self._unindexed is None:
            self._unindexed = {}
            self.touch()

    def release_search_index(self, ids: Iterable[str] | None = None) -> None:
        """The index catches up: with every write, or with those of ``ids`` only (the
        others stay unsearchable: HubSpot indexes each object on its own)."""
        self.touch()
        if ids is None or self._unindexed is None:
            self._unindexed = None
            return
        for id_ in ids:
            self._unindexed.pop(str(id_), None)

    def _before_write(self, contact: Contact | None, id_: str) -> None:
        self.touch()
        if self._unindexed is not None and id_ not in self._unindexed:
            self._unindexed[id_] = None if contact is None else replace(
                contact, props=dict(contact.props), merged_ids=list(contact.merged_ids))

    # -- validation -------------------------------------------------------------------
    def clean(self, values: Mapping[str, Any], current: Contact | None) -> dict[str, str]:
        """Stored-form values, or HsError 400 listing every invalid one."""
        if not isinstance(values, Mapping):
            raise bad_request("Invalid input JSON: properties must be an object")
        clean, problems = check(self.props, values, self.owner_ids())
        if problems:
            raise invalid(problems)
        stage = clean.get("lifecyclestage")
        # HubSpot keeps a later stage without an error; clearing it first is the way back.
        if current is not None and stage and (
                lifecycle_rank(stage) < lifecycle_rank(current.props.get("lifecyclestage"))):
            del clean["lifecyclestage"]
        return clean

    def check_email(self, clean: Mapping[str, str], own_id: str | None) -> None:
        email = clean.get("email")
        holder = self.email_owner(email) if email else None
        if holder is not None and holder != own_id:
            raise conflict(holder)

    # -- writes -----------------------------------------------------------------------
    def create(self, values: Mapping[str, Any]) -> Contact:
        clean = self.clean(values, None)
        self.check_email(clean, None)
        return self.insert(clean)

    def insert(self, clean: Mapping[str, str]) -> Contact:
        """Store already-checked values as a new contact."""
        self._next_id += 1
        self._before_write(None, str(self._next_id))
        now = self.now()
        props = {k: v for k, v in clean.items() if v != ""}
        if "lifecyclestage" not in clean:
            props["lifecyclestage"] = DEFAULT_LIFECYCLE
        contact = Contact(str(self._next_id), props, now, now)
        self.contacts[contact.id] = contact
        self._index(contact)
        return contact

    def update(self, contact: Contact, values: Mapping[str, Any]) -> Contact:
        clean = self.clean(values, contact)
        self.check_email(clean, contact.id)
        self.apply(contact, clean)
        return contact

    def apply(self, contact: Contact, clean: Mapping[str, str]) -> None:
        self._before_write(contact, contact.id)
        self._unindex(contact)
        for name, value in clean.items():
            if value == "":
                contact.props.pop(name, None)
            else:
                contact.props[name] = value
        contact.updated = self.now()
        self._index(contact)

    def archive(self, contact: Contact) -> None:
        self._before_write(contact, contact.id)
        self._unindex(contact)
        contact.archived_at = self.now()

    def merge(self, primary_id: str, merged_id: str) -> Contact:
        primary, merged = self.find(primary_id), self.find(merged_id)
        if primary is None or merged is None:
            raise not_found()
        if primary.id == merged.id:
            raise bad_request("Cannot merge an object with itself")
        self._before_write(primary, primary.id)
        self._before_write(merged, merged.id)
        self._unindex(primary)
        self._unindex(merged)
        for name, value in merged.props.items():
            # The primary's values win; its blanks take the merged contact's.
            primary.props.setdefault(name, value)
        stages = [primary.props.get("lifecyclestage"), merged.props.get("lifecyclestage")]
        furthest = max(stages, key=lifecycle_rank)
        if furthest:
            primary.props["lifecyclestage"] = furthest
        extra = _split(primary.props.get("hs_additional_emails"))
        extra += [e for e in [merged.email, *_split(merged.props.get("hs_additional_emails"))]
                  if e and e != primary.email and e not in extra]
        if extra:
            primary.props["hs_additional_emails"] = ";".join(extra)
        primary.merged_ids += [merged.id, *merged.merged_ids]
        primary.props["hs_merged_object_ids"] = ";".join(primary.merged_ids)
        merged.merged_into = primary.id
        primary.updated = self.now()
        self._index(primary)
        return primary

    def _index(self, contact: Contact) -> None:
        if contact.archived or contact.merged_into is not None:
            return
        emails = [contact.email, *_split(contact.props.get("hs_additional_emails"))]
        keys = [e.casefold() for e in emails if e]
        for key in keys:
            self._emails[key] = contact.id
        self._keys[contact.id] = keys

    def _unindex(self, contact: Contact) -> None:
        for key in self._keys.pop(contact.id, []):
            if self._emails.get(key) == contact.id:
                del self._emails[key]

    # -- rendering --------------------------------------------------------------------
    def values(self, contact: Contact) -> dict[str, str]:
        return {**contact.props, "hs_object_id": contact.id, "createdate": ts(contact.created),
                "lastmodifieddate": ts(contact.updated)}

    def properties(self, contact: Contact, wanted: Iterable[str] | None,
                   full: bool = False) -> dict[str, str | None]:
        """``full``: every set value (write answers); else the named or default ones, unset
        as null and unknown names left out (read answers)."""
        values = self.values(contact)
        if full:
            names: Iterable[str] = values
        elif wanted is None:
            names = DEFAULT_PROPERTIES
        else:
            names = [n for n in wanted if n in self.props] + list(ALWAYS)
        return {n: values.get(n) for n in sorted(set(names))}

    def render(self, contact: Contact, wanted: Iterable[str] | None = None, *,
               full: bool = False, trace: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": contact.id, "properties": self.properties(contact, wanted, full),
            "createdAt": ts(contact.created), "updatedAt": ts(contact.updated),
            "archived": contact.archived,
        }
        if contact.archived_at is not None:
            out["archivedAt"] = ts(contact.archived_at)
        if trace is not None:
            out["objectWriteTraceId"] = trace
        return out


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(";") if v]


__all__ = ["Contact", "HsError", "Store"]
