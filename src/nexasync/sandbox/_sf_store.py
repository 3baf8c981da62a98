"""The Salesforce emulator's data: Users, Leads (with the recycle bin), the delete
log, and the Lead save rules applied to every write, whichever endpoint made it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nexasync.sandbox._sf_schema import USER_FIELDS, Field, make_id, ms, norm_id
from nexasync.sandbox._sf_validate import (
    RecordError,
    RequestError,
    SfError,
    check_values,
    missing,
    resolve,
)

PREFIX = {"Lead": "00Q", "User": "005", "Account": "001", "Contact": "003", "Opportunity": "006"}
DEFAULT_STATUS = "Open - Not Contacted"
CONVERTED_STATUS = "Closed - Converted"


def _full_name(record: dict[str, Any]) -> str:
    return " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)


def _key(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


class Store:
    def __init__(self, lead_fields: dict[str, Field], clock: Callable[[], datetime],
                 username: str) -> None:
        self.fields: dict[str, dict[str, Field]] = {
            "Lead": lead_fields, "User": {f.name: f for f in USER_FIELDS}}
        self.clock = clock
        self.leads: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        #: id -> deletedDate, for getDeleted; kept when the record is purged.
        self.deleted_log: dict[str, datetime] = {}
        self.purged: set[str] = set()
        self._seq: dict[str, int] = {}
        #: While an all-or-none call runs: what it changed, to undo (see :meth:`begin`).
        self._undo: _Undo | None = None
        # Live leads by external-id / unique field value, so upserts stay cheap in big orgs.
        self._index: dict[str, dict[Any, set[str]]] = {
            n: {} for n, f in lead_fields.items() if f.external_id or f.unique}
        # The API user every session runs as; new leads are its by default.
        self.api_user_id = self.add_user(username, "Sandbox Integration", username=username)

    def now(self) -> datetime:
        return ms(self.clock())

    def new_id(self, obj: str) -> str:
        seq = self._seq.get(obj, 0) + 1
        self._seq[obj] = seq
        return make_id(PREFIX[obj], seq)

    def table(self, obj: str) -> dict[str, dict[str, Any]]:
        return self.leads if obj == "Lead" else self.users

    def rows(self, obj: str, include_deleted: bool) -> list[dict[str, Any]]:
        rows = list(self.table(obj).values())
        return rows if include_deleted else [r for r in rows if not r.get("IsDeleted")]

    # -- users ------------------------------------------------------------------------
    def add_user(self, email: str, name: str, is_active: bool = True,
                 username: str | None = None) -> str:
        first, _, last = name.strip().rpartition(" ")
        now = self.now()
        uid = self.new_id("User")
        self.users[uid] = {
            "Id": uid, "Username": username or email, "FirstName": first or None,
            "LastName": last, "Name": name.strip(), "Email": email,
            "Alias": (first[:1] + last)[:8].lower(), "IsActive": is_active,
            "CreatedDate": now, "CreatedById": getattr(self, "api_user_id", uid),
            "LastModifiedDate": now, "LastModifiedById": getattr(self, "api_user_id", uid),
            "SystemModstamp": now,
        }
        return uid

    # -- reading ----------------------------------------------------------------------
    def lookup(self, obj: str, id_: str) -> dict[str, Any]:
        """The live record, or RecordError: MALFORMED_ID, ENTITY_IS_DELETED, NOT_FOUND."""
        full = norm_id(id_)
        if full is None:
            raise RecordError.one("MALFORMED_ID", f"malformed id {id_}", status=404)
        record = self.table(obj).get(full)
        if (record is not None and record.get("IsDeleted")) or full in self.purged:
            raise RecordError.one("ENTITY_IS_DELETED", "entity is deleted", status=404)
        if record is None:
            raise RecordError.one("NOT_FOUND", "The requested resource does not exist", status=404)
        return record

    def find(self, name: str, value: Any) -> list[str]:
        """Live leads whose ``name`` equals ``value`` (text compares case-insensitively)."""
        if name in self._index:
            return sorted(self._index[name].get(_key(value), ()))
        return [i for i, r in self.leads.items()
                if not r["IsDeleted"] and r.get(name) is not None and _key(r[name]) == _key(value)]

    def _indexed(self, record: dict[str, Any], add: bool) -> None:
        for name, index in self._index.items():
            value = record.get(name)
            if value is None:
                continue
            if add and not record["IsDeleted"]:
                index.setdefault(_key(value), set()).add(record["Id"])
            elif _key(value) in index:
                index[_key(value)].discard(record["Id"])

    # -- writes -----------------------------------------------------------------------
    def _unique_errors(self, values: dict[str, Any], own_id: str | None) -> list[SfError]:
        errors = []
        for name, value in values.items():
            if value is None or not self.fields["Lead"][name].unique:
                continue
            others = [i for i in self.find(name, value) if i != own_id]
            if others:
                errors.append(SfError("DUPLICATE_VALUE", f"duplicate value found: {name} "
                                      f"duplicates value on record with id: {others[0]}"))
        return errors

    def _stamp(self, record: dict[str, Any], now: datetime) -> None:
        record["Name"] = _full_name(record)
        record["LastModifiedDate"] = record["SystemModstamp"] = now
        record["LastModifiedById"] = self.api_user_id

    def create(self, values: dict[str, Any]) -> str:
        fields = self.fields["Lead"]
        errors = check_values(fields, values, creating=True, users=self.users)
        if errors and errors[0].code == "INVALID_FIELD_FOR_INSERT_UPDATE":
            raise RecordError(errors)
        record: dict[str, Any] = dict.fromkeys(fields)
        record.update(IsDeleted=False, IsConverted=False, IsUnreadByOwner=True,
                      Status=DEFAULT_STATUS, OwnerId=self.api_user_id)
        record.update({k: v for k, v in values.items() if v is not None or fields[k].nillable})
        gap = missing(fields, record)
        errors += ([gap] if gap else []) + self._unique_errors(values, None)
        if errors:
            raise RecordError(errors)
        now = self.now()
        record.update(Id=self.new_id("Lead"), CreatedDate=now, CreatedById=self.api_user_id)
        self._touch(record["Id"])
        self._stamp(record, now)
        self.leads[record["Id"]] = record
        self._indexed(record, add=True)
        return str(record["Id"])

    def update(self, id_: str, values: dict[str, Any]) -> str:
        record = self.lookup("Lead", id_)
        if record["IsConverted"]:
            raise RecordError.one("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        fields = self.fields["Lead"]
        errors = check_values(fields, values, creating=False, users=self.users)
        if errors and errors[0].code == "INVALID_FIELD_FOR_INSERT_UPDATE":
            raise RecordError(errors)
        gap = missing(fields, {**record, **values})
        errors += ([gap] if gap else []) + self._unique_errors(values, record["Id"])
        if errors:
            raise RecordError(errors)
        self._touch(record["Id"])
        self._indexed(record, add=False)
        record.update(values)
        self._indexed(record, add=True)
        self._stamp(record, self.now())
        return str(record["Id"])

    def external_field(self, name: str) -> Field:
        f = resolve(self.fields["Lead"], name)
        if f is None or not (f.external_id or f.name == "Id"):
            raise RequestError(404, "NOT_FOUND",
                               f"Provided external ID field does not exist or is not accessible: "
                               f"{name}")
        return f

    def upsert(self, name: str, key: Any, values: dict[str, Any]) -> tuple[str, bool]:
        """(id, created). The key in the URL or record wins over one in the values."""
        f = self.external_field(name)
        if f.name == "Id":
            if key is None:
                return self.create(values), True
            return self.update(str(key), values), False
        if key is None or key == "":
            raise RecordError.one("MISSING_ARGUMENT", f"{f.name} not specified")
        matches = self.find(f.name, key)
        if len(matches) > 1:
            raise RecordError.one("DUPLICATE_EXTERNAL_ID", f"{f.name}: more than one record "
                                  f"found for external id field: {matches}", [f.name], 300)
        if matches:
            return self.update(matches[0], values), False
        return self.create({**values, f.name: key}), True

    def delete(self, id_: str) -> None:
        record = self.lookup("Lead", id_)
        now = self.now()
        self._touch(record["Id"])
        self._indexed(record, add=False)
        record["IsDeleted"] = True
        record["LastModifiedDate"] = record["SystemModstamp"] = now
        self.deleted_log[record["Id"]] = now

    def purge(self, id_: str) -> None:
        full = norm_id(id_)
        record = self.leads.get(full) if full else None
        if record is None:
            raise KeyError(id_)
        self._touch(record["Id"])
        del self.leads[record["Id"]]
        self._indexed(record, add=False)
        self.deleted_log.setdefault(record["Id"], self.now())
        self.purged.add(record["Id"])

    def convert(self, id_: str) -> None:
        record = self.lookup("Lead", id_)
        if record["IsConverted"]:
            raise RecordError.one("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        now = self.now()
        self._touch(record["Id"])
        record.update(IsConverted=True, Status=CONVERTED_STATUS, ConvertedDate=now.date(),
                      ConvertedAccountId=self.new_id("Account"),
                      ConvertedContactId=self.new_id("Contact"),
                      ConvertedOpportunityId=self.new_id("Opportunity"))
        self._stamp(record, now)

    # -- all-or-none ------------------------------------------------------------------
    # The call keeps before-images of the leads it touches, so undoing it costs the
    # batch's size rather than a copy of every lead in the org.
    def begin(self) -> None:
        self._undo = _Undo(seq=dict(self._seq))

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo, None
        if undo is None:
            return
        for id_, before in undo.leads.items():
            current = self.leads.pop(id_, None)
            if current is not None:
                self._indexed(current, add=False)
            if before is not None:
                self.leads[id_] = before
                self._indexed(before, add=True)
        for id_, (logged, when) in undo.deleted.items():
            if logged:
                self.deleted_log[id_] = when
            else:
                self.deleted_log.pop(id_, None)
        self.purged -= undo.purged
        self._seq = undo.seq

    def _touch(self, id_: str) -> None:
        """Remember ``id_`` as it is now, the first time the running call changes it."""
        undo = self._undo
        if undo is None or id_ in undo.leads:
            return
        record = self.leads.get(id_)
        undo.leads[id_] = dict(record) if record is not None else None
        undo.deleted[id_] = (id_ in self.deleted_log, self.deleted_log.get(id_))
        if id_ not in self.purged:
            undo.purged.add(id_)


@dataclass
class _Undo:
    seq: dict[str, int]
    #: id -> the lead before the call changed it (None: the call created it).
    leads: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    #: id -> (was in the delete log, its deletedDate then).
    deleted: dict[str, tuple[bool, datetime | None]] = field(default_factory=dict)
    #: ids not purged before the call (purging them is undone).
    purged: set[str] = field(default_factory=set)
