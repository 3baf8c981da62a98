"""Canonical lead <-> Lead fields: pure, no Salesforce needed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexasync.config import SalesforceAuth, SalesforceConfig
from nexasync.connectors._mapping import MappingError, NoOwners
from nexasync.connectors._owners import OwnerMap
from nexasync.connectors._sf_mapping import LeadMapping
from nexasync.lead import STAGES, normalise

AUTH = SalesforceAuth(session_id="x")


def mapping(**overrides: Any) -> LeadMapping:
    return LeadMapping.from_config(SalesforceConfig(auth=AUTH, **overrides))


FULL = mapping(fields={"expected_billing_amount": "Expected_Amount__c", "tags": "NexaDesk_Tags__c"})
OWNERS = OwnerMap({"rep-1": "005A", "rep-2": "005A", "rep-3": "005B"}, by_email=False,
                  load_users=dict)


def test_read_a_full_row() -> None:
    row = {
        "FirstName": " Ada ", "LastName": "Lovelace", "Email": "ADA@Example.com",
        "Phone": "+44 1", "Company": "Engines", "Description": "  wants a bot ",
        "LeadSource": "Web", "Status": "Working - Contacted", "OwnerId": "005B",
        "Expected_Amount__c": 5000.0, "NexaDesk_Tags__c": "vip; b;;a",
    }
    assert FULL.read(row, OWNERS) == {
        "visitor_name": "Ada Lovelace", "visitor_email": "ada@example.com",
        "visitor_phone": "+44 1", "visitor_company": "Engines", "need_summary": "wants a bot",
        "source": "Web", "pipeline_stage": "contacted", "assigned_rep_id": "rep-3",
        "expected_billing_amount": 5000, "tags": ("a", "b", "vip"),
    }


def test_unmapped_status_and_owner_read_as_unknown_and_placeholder_as_blank() -> None:
    row = {"LastName": "X", "Company": "[not provided]", "Status": "Nurturing",
           "OwnerId": "00G-queue", "Email": None}
    assert FULL.read(row, OWNERS) == {"visitor_name": "X", "visitor_company": None,
                                      "visitor_email": None}


def test_a_row_that_cannot_be_read_names_the_field() -> None:
    with pytest.raises(MappingError, match="Expected_Amount__c"):
        FULL.read({"LastName": "X", "Expected_Amount__c": "lots"}, OWNERS)


def test_create_fills_required_fields_and_maps_through_the_maps() -> None:
    lead = normalise({"visitor_name": "Grace Brewster Hopper", "pipeline_stage": "assigned",
                      "assigned_rep_id": "rep-2", "tags": ["z", "a"],
                      "expected_billing_amount": "12.5"})
    assert FULL.write(lead, OWNERS, create=True) == {
        "FirstName": "Grace Brewster", "LastName": "Hopper", "Company": "[not provided]",
        "Status": "Open - Not Contacted", "OwnerId": "005A", "NexaDesk_Tags__c": "a;z",
        "Expected_Amount__c": 12.5,
    }


def test_update_sends_only_given_fields_and_clears_with_none() -> None:
    lead = {"need_summary": None, "visitor_company": None, "tags": (),
            "assigned_rep_id": "rep-unknown", "pipeline_stage": None}
    assert FULL.write(lead, OWNERS, create=False) == {
        "Description": None, "Company": "[not provided]", "NexaDesk_Tags__c": None,
    }


def test_create_without_name_and_overlong_untruncatable_fields_fail_with_every_reason() -> None:
    m = mapping(truncate=[])
    with pytest.raises(MappingError) as info:
        m.write({"visitor_email": "a" * 90 + "@x.io", "visitor_phone": "1" * 41},
                NoOwners(), create=True)
    message = str(info.value)
    assert "LastName" in message and "Email takes 80" in message and "Phone takes 40" in message


def test_truncation_when_allowed() -> None:
    values = FULL.write({"visitor_name": "F" * 50 + " " + "L" * 100}, NoOwners(), create=False)
    assert values == {"FirstName": "F" * 40, "LastName": "L" * 80}


def test_project_is_lossy_exactly_where_salesforce_is() -> None:
    lead = normalise({
        "visitor_name": "x" * 150, "visitor_company": "", "pipeline_stage": "qualified",
        "assigned_rep_id": "rep-2", "tags": ["b;c", "a"], "source": "widget",
    })
    assert FULL.project(lead, OWNERS) == {
        "visitor_name": "x" * 80, "visitor_company": None, "pipeline_stage": "contacted",
        "assigned_rep_id": "rep-1", "tags": ("a", "b", "c"), "source": "widget",
    }
    # A rep with no user, and a blank stage, are not written: they read back unknown.
    assert FULL.project({"assigned_rep_id": "rep-9", "pipeline_stage": None}, OWNERS) == {}


def test_placeholder_company_in_nexadesk_equals_blank() -> None:
    assert FULL.project({"visitor_company": "[not provided]"}, OWNERS) == {"visitor_company": None}


def test_stage_map_back_override() -> None:
    m = mapping(stage_map_back={"Open - Not Contacted": "assigned"})
    assert m.read({"Status": "Open - Not Contacted"}, NoOwners()) == {"pipeline_stage": "assigned"}
    assert m.project({"pipeline_stage": "new"}, NoOwners()) == {"pipeline_stage": "assigned"}


def test_owner_by_email_loads_users_lazily_and_once() -> None:
    loads: list[int] = []

    def load() -> dict[str, str | None]:
        loads.append(1)
        return {"005X": "Rep@Example.com", "005Y": None}

    owners = OwnerMap({"rep-1": "005A"}, by_email=True, load_users=load)
    assert owners.user_for("rep-1") == "005A" and owners.rep_for("005A") == "rep-1"
    assert owners.rep_for("005X") is None and loads == []  # no directory yet: nothing to ask
    owners.set_rep_directory({"rep-7": "rep@example.com", "rep-8": None})
    assert owners.user_for("rep-7") == "005X"
    assert owners.rep_for("005X") == "rep-7"
    assert owners.rep_for("005Y") is None
    assert loads == [1]


# -- properties ------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=300)
leads = st.fixed_dictionaries({}, optional={
    "visitor_name": st.one_of(st.none(), text, st.just("A " + "b" * 149)),
    "visitor_email": st.one_of(st.none(), st.emails()),
    "visitor_phone": st.one_of(st.none(), text),
    "visitor_company": st.one_of(st.none(), text, st.just("[not provided]")),
    "pipeline_stage": st.one_of(st.none(), st.sampled_from(STAGES)),
    "need_summary": st.one_of(st.none(), text),
    "source": st.one_of(st.none(), text),
    "expected_billing_amount": st.one_of(
        st.none(), st.integers(-10**9, 10**9), st.floats(-1e9, 1e9, allow_nan=False)),
    "tags": st.lists(text, max_size=5),
    "assigned_rep_id": st.one_of(st.none(), st.sampled_from(["rep-1", "rep-2", "rep-3", "r9"])),
}).map(normalise)


@settings(max_examples=300, deadline=None)
@given(leads)
def test_project_is_idempotent(lead: dict[str, Any]) -> None:
    once = FULL.project(lead, OWNERS)
    assert FULL.project(once, OWNERS) == once
    assert normalise(once) == once  # what reads back is canonical


@settings(max_examples=300, deadline=None)
@given(leads)
def test_a_written_lead_reads_back_as_its_projection(lead: dict[str, Any]) -> None:
    try:
        row = FULL.write(lead, OWNERS, create=False)
    except MappingError:
        return
    back = FULL.read(row, OWNERS)
    assert back == {k: v for k, v in FULL.project(lead, OWNERS).items() if k in back}
