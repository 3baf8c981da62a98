"""Canonical lead <-> Salesforce Lead fields, both ways, with no I/O.

Salesforce is lossier than NexaDesk: names are split and capped, a blank company
is stored as a placeholder, several NexaDesk stages share one Lead Status and
owners exist only for reps that map to a user. :meth:`LeadMapping.project` runs a
lead through both directions so the engine compares values as they read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nexasync.config import SalesforceConfig
from nexasync.connectors._mapping import ABSENT, MappingError, Owners, project_lead, read_lead
from nexasync.lead import (
    FIELDS,
    Lead,
    join_name,
    norm_str,
    norm_tags,
    normalise_field,
    split_name,
)

#: Lengths of the standard Lead text fields, as describe() reports them. Custom fields
#: are left to Salesforce to check (their lengths are the org's).
LENGTHS: dict[str, int] = {
    "FirstName": 40,
    "LastName": 80,
    "Email": 80,
    "Phone": 40,
    "Company": 255,
    "Description": 32000,
    "LeadSource": 255,
    "Status": 255,
}




@dataclass(frozen=True)
class LeadMapping:
    #: canonical field -> Lead field, only the mapped ones (visitor_name is implicit).
    fields: Mapping[str, str]
    stage_map: Mapping[str, str]
    stage_map_back: Mapping[str, str]
    placeholder: str
    truncate: frozenset[str]
    lengths: Mapping[str, int] = field(default_factory=lambda: dict(LENGTHS))

    @classmethod
    def from_config(cls, config: SalesforceConfig) -> LeadMapping:
        return cls(
            fields={k: v for k, v in config.fields.items() if v},
            stage_map=dict(config.stage_map),
            stage_map_back=dict(config.stage_map_back or {}),
            placeholder=config.company_placeholder,
            truncate=frozenset(config.truncate),
        )

    @property
    def sf_fields(self) -> list[str]:
        """The Lead fields to select, in a stable order."""
        names = ["FirstName", "LastName"]
        for canonical in FIELDS:
            target = self.fields.get(canonical)
            if target and target not in names:
                names.append(target)
        return names

    # -- Salesforce -> canonical ---------------------------------------------------
    def read(self, row: Mapping[str, Any], owners: Owners) -> Lead:
        """The canonical lead of a Lead row; a field that has no canonical value
        (unmapped status or owner) is left out: unknown, never synced."""
        return read_lead(
            ("visitor_name", *self.fields),
            lambda name: self._read_field(name, row, owners),
            self._label,
        )

    def _read_field(self, name: str, row: Mapping[str, Any], owners: Owners) -> Any:
        if name == "visitor_name":
            if "LastName" not in row and "FirstName" not in row:
                return ABSENT
            return join_name(row.get("FirstName"), row.get("LastName"))
        target = self.fields[name]
        if target not in row:
            return ABSENT
        value = row[target]
        if name == "visitor_company":
            text = norm_str(value)
            return None if text == norm_str(self.placeholder) else text
        if name == "pipeline_stage":
            stage = self.stage_map_back.get(norm_str(value) or "")
            return ABSENT if stage is None else normalise_field(name, stage)
        if name == "assigned_rep_id":
            user = norm_str(value)
            rep = owners.rep_for(user) if user else None
            return ABSENT if rep is None else normalise_field(name, rep)
        return normalise_field(name, value)

    def owner_of(self, row: Mapping[str, Any]) -> str | None:
        """The user owning a Lead row, when owners are synced."""
        target = self.fields.get("assigned_rep_id")
        return norm_str(row.get(target)) if target else None

    # -- canonical -> Salesforce ---------------------------------------------------
    def write(self, lead: Lead, owners: Owners, *, create: bool) -> dict[str, Any]:
        """Lead field values for ``lead`` (only its fields; a create also fills the
        required ones). Raises :class:`MappingError` with every problem found."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        names = list(lead)
        if create:
            names += [n for n in ("visitor_name", "visitor_company") if n not in lead]
        for name in names:
            if name != "visitor_name" and name not in self.fields:
                continue
            try:
                values.update(self._write_field(name, lead.get(name), owners))
            except MappingError as exc:
                errors.append(str(exc))
        if errors:
            raise MappingError("; ".join(errors))
        return values

    def _write_field(self, name: str, value: Any, owners: Owners) -> dict[str, Any]:
        if name == "visitor_name":
            first, last = split_name(value)
            if last is None:
                raise MappingError("visitor_name is blank; Salesforce requires LastName")
            return {
                "FirstName": self._fit(name, "FirstName", first),
                "LastName": self._fit(name, "LastName", last),
            }
        target = self.fields[name]
        if name == "visitor_company":
            text = norm_str(value)
            return {target: self._fit(name, target, text if text else self.placeholder)}
        if name == "pipeline_stage":
            # Status is required: a blank stage leaves it as it is.
            if value is None:
                return {}
            if value not in self.stage_map:
                raise MappingError(f"pipeline_stage {value!r} has no Lead Status in stage_map")
            return {target: self.stage_map[value]}
        if name == "assigned_rep_id":
            # OwnerId is required and a rep without a user has no owner to set.
            user = owners.user_for(value) if value else None
            return {} if user is None else {target: user}
        if name == "tags":
            tags = norm_tags(value)
            return {target: self._fit(name, target, ";".join(tags) if tags else None)}
        if name == "expected_billing_amount":
            return {target: value}
        return {target: self._fit(name, target, norm_str(value))}

    def _fit(self, name: str, target: str, text: str | None) -> str | None:
        limit = self.lengths.get(target)
        if text is None or limit is None or len(text) <= limit:
            return text
        if name in self.truncate:
            return text[:limit].rstrip()
        raise MappingError(f"{self._label(name)} is {len(text)} characters; {target} takes {limit}")

    # -- round trip ------------------------------------------------------------------
    def project(self, lead: Lead, owners: Owners) -> Lead:
        """``lead`` as it reads back from Salesforce. A field Salesforce would refuse
        keeps its value (the write reports the error); a field the write leaves out
        (blank stage or owner, a rep with no user) becomes unknown."""
        return project_lead(
            lead,
            lambda name: name == "visitor_name" or name in self.fields,
            lambda name, value: self._read_field(
                name, self._write_field(name, value, owners), owners
            ),
        )

    def _label(self, name: str) -> str:
        return "visitor_name" if name == "visitor_name" else f"{name} ({self.fields[name]})"
