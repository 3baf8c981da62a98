"""Canonical lead <-> HubSpot contact properties, both ways, with no I/O.

HubSpot keeps every property as a string and clears one with ``""``. The lossy
parts are the stage (several NexaDesk stages share one lead status or lifecycle
stage), owners (only reps that map to an owner), tags (``;``-joined, so a tag
holding ``;`` splits) and text capped at HubSpot's property length.
:meth:`ContactMapping.project` runs a lead through both directions so the engine
compares values as they read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nexasync._config_hubspot import HubSpotConfig
from nexasync.connectors._mapping import (
    ABSENT,
    MappingError,
    NoOwners,
    Owners,
    project_lead,
    read_lead,
)
from nexasync.lead import (
    FIELDS,
    Lead,
    join_name,
    norm_email,
    norm_number,
    norm_str,
    norm_tags,
    normalise_field,
    split_name,
)

__all__ = ["ContactMapping", "MappingError", "NoOwners", "Owners", "TEXT_LIMIT"]

#: HubSpot refuses a string property value longer than this.
TEXT_LIMIT = 65536

#: The default lifecycle stages, earliest first: HubSpot will not move a contact to an
#: earlier one unless the property is cleared first.
LIFECYCLE_ORDER: tuple[str, ...] = (
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
    "opportunity", "customer", "evangelist", "other",
)

#: Read on every pull: identity, the watermark and merges.
SYSTEM_PROPERTIES: tuple[str, ...] = ("hs_object_id", "lastmodifieddate", "hs_merged_object_ids")



@dataclass(frozen=True)
class ContactMapping:
    #: canonical field -> contact property, only the mapped ones; visitor_name (firstname,
    #: lastname) and pipeline_stage (``stage_property``) are implicit.
    fields: Mapping[str, str]
    stage_property: str
    stage_map: Mapping[str, str]
    stage_map_back: Mapping[str, str]
    truncate: frozenset[str]
    text_limit: int = TEXT_LIMIT

    @classmethod
    def from_config(cls, config: HubSpotConfig) -> ContactMapping:
        return cls(
            fields={k: v for k, v in config.fields.items() if v},
            stage_property=config.stage_property,
            stage_map=dict(config.stage_map or {}),
            stage_map_back=dict(config.stage_map_back or {}),
            truncate=frozenset(config.truncate),
        )

    def target(self, name: str) -> str | None:
        """The property a canonical field is stored in (None: not synced)."""
        if name == "pipeline_stage":
            return self.stage_property
        return self.fields.get(name)

    @property
    def properties(self) -> list[str]:
        """The contact properties to read, in a stable order."""
        names = ["firstname", "lastname"]
        for canonical in FIELDS:
            target = self.target(canonical)
            if target and target not in names:
                names.append(target)
        return [*names, *(p for p in SYSTEM_PROPERTIES if p not in names)]

    def synced(self, name: str) -> bool:
        return name == "visitor_name" or self.target(name) is not None

    # -- HubSpot -> canonical ----------------------------------------------------------
    def read(self, props: Mapping[str, Any], owners: Owners) -> Lead:
        """The canonical lead of a contact's properties; a value with no canonical
        meaning (an unmapped stage or owner) is left out: unknown, never synced."""
        return read_lead(
            (name for name in FIELDS if self.synced(name)),
            lambda name: self._read_field(name, props, owners),
            self._label,
        )

    def _read_field(self, name: str, props: Mapping[str, Any], owners: Owners) -> Any:
        if name == "visitor_name":
            if "firstname" not in props and "lastname" not in props:
                return ABSENT
            return join_name(props.get("firstname"), props.get("lastname"))
        target = self.target(name)
        if target is None or target not in props:
            return ABSENT
        value = props[target]
        if name == "pipeline_stage":
            # A blank stage is "not set", as unknown as a value the map does not know.
            stage = self.stage_map_back.get(norm_str(value) or "")
            return ABSENT if stage is None else normalise_field(name, stage)
        if name == "assigned_rep_id":
            owner = norm_str(value)
            if owner is None:
                return None  # unassigned
            rep = owners.rep_for(owner)
            return ABSENT if rep is None else normalise_field(name, rep)
        return normalise_field(name, value)

    def owner_of(self, props: Mapping[str, Any]) -> str | None:
        """The owner of a contact's properties, when owners are synced."""
        target = self.target("assigned_rep_id")
        return norm_str(props.get(target)) if target else None

    # -- canonical -> HubSpot ----------------------------------------------------------
    def write(self, lead: Lead, owners: Owners, *, create: bool) -> dict[str, str]:
        """Property values for ``lead`` (only its fields; ``""`` clears a property, and
        a create leaves blanks out). Raises :class:`MappingError` with every problem."""
        values: dict[str, str] = {}
        errors: list[str] = []
        for name in lead:
            if not self.synced(name):
                continue
            try:
                values.update(self._write_field(name, lead[name], owners))
            except MappingError as exc:
                errors.append(str(exc))
        if errors:
            raise MappingError("; ".join(errors))
        if create:
            values = {k: v for k, v in values.items() if v != ""}
        return values

    def _write_field(self, name: str, value: Any, owners: Owners) -> dict[str, str]:
        if name == "visitor_name":
            first, last = split_name(value)
            return {
                "firstname": self._fit(name, "firstname", first),
                "lastname": self._fit(name, "lastname", last),
            }
        target = self.target(name)
        assert target is not None
        if name == "pipeline_stage":
            # Clearing the stage is never synced: a blank leaves the contact's stage as is.
            if value is None:
                return {}
            if value not in self.stage_map:
                raise MappingError(
                    f"pipeline_stage {value!r} has no {self.stage_property} in stage_map"
                )
            return {target: self.stage_map[value]}
        if name == "assigned_rep_id":
            if value is None:
                return {target: ""}
            owner = owners.user_for(value)
            # A rep with no HubSpot owner: nothing to set, and no reason to unassign.
            return {} if owner is None else {target: owner}
        if name == "tags":
            tags = norm_tags(value)
            return {target: self._fit(name, target, ";".join(tags) if tags else None)}
        if name == "expected_billing_amount":
            try:
                number = norm_number(value)
            except (ValueError, TypeError) as exc:
                raise MappingError(f"{self._label(name)}: {exc}") from None
            return {target: "" if number is None else str(number)}
        if name == "visitor_email":
            return {target: norm_email(value) or ""}
        return {target: self._fit(name, target, norm_str(value))}

    def _fit(self, name: str, target: str, text: str | None) -> str:
        if text is None:
            return ""
        if len(text) <= self.text_limit:
            return text
        if name in self.truncate:
            return text[:self.text_limit].rstrip()
        raise MappingError(
            f"{self._label(name)} is {len(text)} characters; {target} takes {self.text_limit}"
        )

    # -- round trip --------------------------------------------------------------------
    def project(self, lead: Lead, owners: Owners) -> Lead:
        """``lead`` as it reads back from HubSpot. A field HubSpot would refuse keeps its
        value (the write reports the error); a field the write leaves out (blank stage,
        a rep with no owner) becomes unknown."""
        return project_lead(
            lead,
            self.synced,
            lambda name, value: self._read_field(
                name, self._write_field(name, value, owners), owners
            ),
        )

    # -- lifecycle stage -----------------------------------------------------------------
    def moves_backwards(
        self, current: str | None, new: str | None,
        order: tuple[str, ...] = LIFECYCLE_ORDER,
    ) -> bool:
        """Whether setting the lifecycle stage from ``current`` to ``new`` goes back in
        the account's stage ``order`` (which HubSpot refuses unless the stage is cleared
        first)."""
        if self.stage_property != "lifecyclestage" or not current or not new:
            return False
        rank = {stage: i for i, stage in enumerate(order)}
        if current not in rank or new not in rank:
            return current != new  # a custom stage: clearing first is always accepted
        return rank[new] < rank[current]

    def _label(self, name: str) -> str:
        if name == "visitor_name":
            return "visitor_name"
        return f"{name} ({self.target(name)})"
