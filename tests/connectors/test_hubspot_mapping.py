"""Canonical lead <-> contact properties: pure, no HubSpot needed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexasync._config_hubspot import HubSpotConfig
from nexasync.connectors._hs_mapping import ContactMapping, MappingError, NoOwners
from nexasync.connectors._owners import OwnerMap
from nexasync.lead import STAGES, normalise

CUSTOM = {"source": "nexadesk_source", "expected_billing_amount": "nexadesk_amount",
          "tags": "nexadesk_tags"}


def mapping(**overrides: Any) -> ContactMapping:
    settings_: dict[str, Any] = {"type": "hubspot", "access_token": "t", "fields": CUSTOM}
    settings_.update(overrides)
    return ContactMapping.from_config(HubSpotConfig(**settings_))


FULL = mapping()
LIFECYCLE = mapping(stage_property="lifecyclestage")
OWNERS = OwnerMap({"rep-1": "101", "rep-2": "101", "rep-3": "102"}, by_email=False,
                  load_users=dict)


def test_read_a_full_contact() -> None:
    props = {
        "firstname": " Ada ", "lastname": "Lovelace", "email": "ADA@Example.com",
        "phone": "+44 1", "company": "Engines", "message": "  wants a bot ",
        "nexadesk_source": "chat", "hs_lead_status": "CONNECTED", "hubspot_owner_id": "102",
        "nexadesk_amount": "5000.0", "nexadesk_tags": "vip; b;;a",
        "hs_object_id": "7", "lastmodifieddate": "2024-05-01T12:00:00.000Z",
    }
    assert FULL.read(props, OWNERS) == {
        "visitor_name": "Ada Lovelace", "visitor_email": "ada@example.com",
        "visitor_phone": "+44 1", "visitor_company": "Engines", "need_summary": "wants a bot",
        "source": "chat", "pipeline_stage": "contacted", "assigned_rep_id": "rep-3",
        "expected_billing_amount": 5000, "tags": ("a", "b", "vip"),
    }


def test_unmapped_stage_and_owner_read_as_unknown_blanks_as_blank() -> None:
    props = {"firstname": None, "lastname": "X", "hs_lead_status": "SOMETHING_CUSTOM",
             "hubspot_owner_id": "999", "email": None, "nexadesk_tags": None}
    assert FULL.read(props, OWNERS) == {"visitor_name": "X", "visitor_email": None,
                                        "tags": ()}
    # No stage at all is unknown too (never blanks the other side's stage); no owner
    # is "unassigned".
    assert FULL.read({"hs_lead_status": "", "hubspot_owner_id": ""}, OWNERS) == {
        "assigned_rep_id": None}


def test_a_property_not_read_is_unknown() -> None:
    assert FULL.read({"email": "a@b.co"}, OWNERS) == {"visitor_email": "a@b.co"}


def test_a_contact_that_cannot_be_read_names_the_property() -> None:
    with pytest.raises(MappingError, match="nexadesk_amount"):
        FULL.read({"lastname": "X", "nexadesk_amount": "lots"}, OWNERS)


def test_create_leaves_blanks_out_and_maps_through_the_maps() -> None:
    lead = normalise({"visitor_name": "Grace Brewster Hopper", "pipeline_stage": "assigned",
                      "assigned_rep_id": "rep-2", "tags": ["z", "a"], "visitor_phone": " ",
                      "expected_billing_amount": "12.5", "need_summary": None})
    assert FULL.write(lead, OWNERS, create=True) == {
        "firstname": "Grace Brewster", "lastname": "Hopper", "hs_lead_status": "OPEN",
        "hubspot_owner_id": "101", "nexadesk_tags": "a;z", "nexadesk_amount": "12.5",
    }


def test_update_sends_only_given_fields_and_clears_with_empty_string() -> None:
    lead = {"need_summary": None, "visitor_company": None, "tags": (),
            "assigned_rep_id": None, "pipeline_stage": None, "visitor_name": "Solo",
            "expected_billing_amount": None}
    assert FULL.write(lead, OWNERS, create=False) == {
        "message": "", "company": "", "nexadesk_tags": "", "hubspot_owner_id": "",
        "firstname": "", "lastname": "Solo", "nexadesk_amount": "",
    }


def test_a_rep_without_owner_is_not_sent_and_an_unmapped_stage_is_refused() -> None:
    assert FULL.write({"assigned_rep_id": "rep-x"}, OWNERS, create=False) == {}
    m = mapping(stage_map={"lost": "UNQUALIFIED"})
    m2 = ContactMapping(
        fields=m.fields, stage_property=m.stage_property,
        stage_map={k: v for k, v in m.stage_map.items() if k != "lost"},
        stage_map_back=m.stage_map_back, truncate=m.truncate,
    )
    with pytest.raises(MappingError, match="pipeline_stage 'lost'"):
        m2.write({"pipeline_stage": "lost"}, OWNERS, create=False)


def test_fields_not_configured_are_neither_read_nor_written() -> None:
    plain = mapping(fields={})
    assert "nexadesk_tags" not in plain.properties
    assert plain.write({"tags": ("a",), "source": "x"}, OWNERS, create=False) == {}
    assert plain.project({"tags": ("a",)}, OWNERS) == {"tags": ("a",)}


def test_overlong_text_is_truncated_when_allowed_and_refused_otherwise() -> None:
    short = ContactMapping(
        fields=FULL.fields, stage_property="hs_lead_status", stage_map=FULL.stage_map,
        stage_map_back=FULL.stage_map_back, truncate=frozenset({"need_summary"}),
        text_limit=10,
    )
    assert short.write({"need_summary": "abcdefghi jklm"}, OWNERS, create=True) == {
        "message": "abcdefghi"}
    with pytest.raises(MappingError) as info:
        short.write({"visitor_company": "c" * 11, "visitor_phone": "1" * 12}, OWNERS,
                    create=True)
    assert "company takes 10" in str(info.value) and "phone takes 10" in str(info.value)
    assert short.project({"need_summary": "abcdefghi jklm"}, OWNERS) == {
        "need_summary": "abcdefghi"}
    # Refused, so it keeps its value: the write reports the error rather than the
    # engine seeing a change that never was.
    assert short.project({"visitor_company": "c" * 11}, OWNERS) == {
        "visitor_company": "c" * 11}


def test_project_is_lossy_where_hubspot_is() -> None:
    lead = normalise({"pipeline_stage": "assigned", "tags": ["a;b", "c"],
                      "assigned_rep_id": "rep-2", "visitor_name": "  Ada   King  Lovelace"})
    assert FULL.project(lead, OWNERS) == {
        "pipeline_stage": "qualified", "tags": ("a", "b", "c"), "assigned_rep_id": "rep-1",
        "visitor_name": "Ada   King Lovelace",
    }
    # A blank stage and a rep with no owner are not written: unknown after the trip.
    assert FULL.project({"pipeline_stage": None, "assigned_rep_id": "nobody"}, OWNERS) == {}


def test_lifecycle_mapping_and_backward_moves() -> None:
    assert LIFECYCLE.write({"pipeline_stage": "converted"}, OWNERS, create=False) == {
        "lifecyclestage": "customer"}
    assert LIFECYCLE.read({"lifecyclestage": "opportunity"}, OWNERS) == {
        "pipeline_stage": "contacted"}
    assert LIFECYCLE.moves_backwards("customer", "lead")
    assert LIFECYCLE.moves_backwards("other", "lead")
    assert not LIFECYCLE.moves_backwards("lead", "customer")
    assert not LIFECYCLE.moves_backwards(None, "lead")
    assert not LIFECYCLE.moves_backwards("lead", "lead")
    assert LIFECYCLE.moves_backwards("custom_stage", "lead")
    assert not FULL.moves_backwards("OPEN_DEAL", "NEW")  # lead status has no order


def test_properties_read_include_the_system_ones_once() -> None:
    props = FULL.properties
    assert props[:2] == ["firstname", "lastname"]
    assert {"hs_lead_status", "hubspot_owner_id", "lastmodifieddate",
            "hs_merged_object_ids", "hs_object_id"} <= set(props)
    assert len(props) == len(set(props))


_text = st.one_of(st.none(), st.text(max_size=30))
_lead = st.fixed_dictionaries({}, optional={
    "visitor_name": _text,
    "visitor_email": st.one_of(st.none(), st.emails()),
    "visitor_phone": _text,
    "visitor_company": _text,
    "pipeline_stage": st.one_of(st.none(), st.sampled_from(STAGES)),
    "need_summary": _text,
    "source": _text,
    "expected_billing_amount": st.one_of(
        st.none(), st.integers(-10**9, 10**9),
        st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)),
    "tags": st.lists(st.text(max_size=8), max_size=4),
    "assigned_rep_id": st.one_of(st.none(), st.sampled_from(["rep-1", "rep-2", "rep-3", "x"])),
})


@settings(max_examples=300, deadline=None)
@given(_lead, st.sampled_from([FULL, LIFECYCLE]))
def test_project_is_idempotent_and_equals_the_write_read_round_trip(
    raw: dict[str, Any], m: ContactMapping
) -> None:
    lead = normalise(raw)
    once = m.project(lead, OWNERS)
    assert m.project(once, OWNERS) == once
    # What is written reads back exactly as the projection says.
    assert m.read(m.write(lead, OWNERS, create=False), OWNERS) == once


def test_no_owners_maps_no_rep() -> None:
    assert FULL.write({"assigned_rep_id": "rep-1"}, NoOwners(), create=False) == {}
