"""Contact merges in the HubSpot emulator, through hubspot-api-client: what survives,
what the merged-away id answers afterwards, and where it no longer shows up."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    PublicMergeInput,
    SimplePublicObjectInputForCreate,
)

from nexasync.sandbox._hs_errors import HsError
from nexasync.sandbox._http import ServerThread
from nexasync.sandbox.hubspot import HubSpotEmulator


@pytest.fixture
def emu(served: tuple[HubSpotEmulator, ServerThread]) -> HubSpotEmulator:
    emu = served[0]
    emu.clock = lambda: datetime.now(timezone.utc)
    emu.reset()
    return emu


@pytest.fixture
def pair(emu: HubSpotEmulator) -> tuple[str, str]:
    primary = emu.add_contact(email="ada@example.com", firstname="Ada", phone="1",
                              lifecyclestage="lead")
    other = emu.add_contact(email="ada.l@example.org", firstname="Augusta", company="Babbage",
                            lifecyclestage="customer")
    return primary, other


def test_merge_keeps_the_primary_and_fills_its_blanks(emu: HubSpotEmulator, api: HubSpot,
                                                      pair: tuple[str, str]) -> None:
    primary, other = pair
    merged = api.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=primary, object_id_to_merge=other))
    assert merged.id == primary
    props = merged.properties
    assert (props["firstname"], props["email"], props["phone"]) == ("Ada", "ada@example.com", "1")
    assert props["company"] == "Babbage"  # the primary had none
    assert props["lifecyclestage"] == "customer"  # the stage furthest on is kept
    assert props["hs_merged_object_ids"] == other
    assert props["hs_additional_emails"] == "ada.l@example.org"
    assert emu.counts["merge"] == 1


def test_the_merged_away_id_answers_with_the_primary(api: HubSpot, raw: httpx.Client,
                                                     pair: tuple[str, str]) -> None:
    primary, other = pair
    api.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=primary, object_id_to_merge=other))
    assert api.crm.contacts.basic_api.get_by_id(other).id == primary
    read = raw.post("/crm/v3/objects/contacts/batch/read",
                    json={"inputs": [{"id": other}], "properties": ["firstname"]})
    assert read.status_code == 200 and [r["id"] for r in read.json()["results"]] == [primary]
    updated = api.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(
        inputs=[{"id": other, "properties": {"lastname": "Lovelace"}}]))
    assert [r.id for r in updated.results] == [primary]


def test_merged_away_contacts_are_neither_listed_nor_archived(
        emu: HubSpotEmulator, api: HubSpot, pair: tuple[str, str]) -> None:
    primary, other = pair
    emu.merge(primary, other)
    basic = api.crm.contacts.basic_api
    assert [c.id for c in basic.get_page().results] == [primary]
    assert basic.get_page(archived=True).results == []
    with pytest.raises(ApiException) as exc:
        basic.get_by_id(other, archived=True)
    assert exc.value.status == 404
    assert [c["id"] for c in emu.contacts(include_archived=True)] == [primary]


def test_a_merged_in_email_still_belongs_to_the_primary(api: HubSpot,
                                                        pair: tuple[str, str]) -> None:
    primary, other = pair
    api.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=primary, object_id_to_merge=other))
    with pytest.raises(ApiException) as exc:
        api.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "ADA.L@example.org"}))
    assert exc.value.status == 409
    message = json.loads(exc.value.body)["message"]
    assert message == f"Contact already exists. Existing ID: {primary}"
    found = api.crm.contacts.basic_api.get_by_id("ada.l@example.org", id_property="email")
    assert found.id == primary


def test_merged_ids_accumulate_and_chains_resolve(emu: HubSpotEmulator,
                                                  pair: tuple[str, str]) -> None:
    primary, other = pair
    third = emu.add_contact(firstname="Third")
    fourth = emu.add_contact(firstname="Fourth")
    emu.merge(third, fourth)
    assert emu.merge(primary, other) == primary
    assert emu.merge(primary, third) == primary
    merged = emu.get(fourth)
    assert merged is not None and merged["id"] == primary
    assert merged["properties"]["hs_merged_object_ids"] == f"{other};{third};{fourth}"


def test_merging_unknown_or_identical_contacts_is_refused(emu: HubSpotEmulator,
                                                          raw: httpx.Client,
                                                          pair: tuple[str, str]) -> None:
    primary, _ = pair
    unknown = raw.post("/crm/v3/objects/contacts/merge",
                       json={"primaryObjectId": primary, "objectIdToMerge": "999999"})
    assert unknown.status_code == 404
    same = raw.post("/crm/v3/objects/contacts/merge",
                    json={"primaryObjectId": primary, "objectIdToMerge": primary})
    assert same.status_code == 400
    with pytest.raises(HsError):
        emu.merge(primary, primary)
    assert len(emu.contacts()) == 2
