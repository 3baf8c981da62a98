"""The HubSpot emulator through the real hubspot-api-client (and httpx for the raw
wire): auth, single-contact CRUD, HubSpot's validation and conflict answers, the
forward-only lifecycle stage, archiving, listing, owners and property definitions."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot_support import Clock

from nexasync.sandbox._hs_errors import HsError
from nexasync.sandbox._http import ServerThread
from nexasync.sandbox.hubspot import HubSpotEmulator

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def emu(served: tuple[HubSpotEmulator, ServerThread]) -> HubSpotEmulator:
    emu = served[0]
    emu.clock = lambda: datetime.now(timezone.utc)
    emu.reset()
    return emu


@pytest.fixture
def url(served: tuple[HubSpotEmulator, ServerThread], emu: HubSpotEmulator) -> str:
    return served[1].url


def create(api: HubSpot, **properties: object) -> str:
    body = SimplePublicObjectInputForCreate(properties=properties)
    return str(api.crm.contacts.basic_api.create(body).id)


def error_of(exc: pytest.ExceptionInfo[ApiException]) -> dict:
    return dict(json.loads(exc.value.body))


# -- auth -------------------------------------------------------------------------------
def test_a_missing_or_wrong_token_gets_hubspots_401(emu: HubSpotEmulator, url: str) -> None:
    answer = httpx.get(f"{url}/crm/v3/objects/contacts")
    assert answer.status_code == 401
    body = answer.json()
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")
    assert "X-HubSpot-RateLimit-Max" not in answer.headers
    with pytest.raises(ApiException) as exc:
        HubSpot(access_token="wrong", host=url).crm.contacts.basic_api.get_page()
    assert exc.value.status == 401
    assert emu.counts["list"] == 2 and emu.contacts() == []


# -- create and read --------------------------------------------------------------------
def test_create_answers_201_with_every_set_property_and_a_location(
        emu: HubSpotEmulator, raw: httpx.Client) -> None:
    emu.clock = Clock(T0.replace(microsecond=250_000))
    answer = raw.post("/crm/v3/objects/contacts",
                      json={"properties": {"email": "Ada@Example.com", "firstname": "Ada",
                                           "nexadesk_amount": 1500.0, "company": ""}})
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/json;charset=utf-8"
    body = answer.json()
    assert answer.headers["Location"].endswith(f"/crm/v3/objects/contacts/{body['id']}")
    assert body["properties"] == {
        "createdate": "2025-03-01T12:00:00.250Z", "email": "Ada@Example.com",
        "firstname": "Ada", "hs_object_id": body["id"],
        "lastmodifieddate": "2025-03-01T12:00:00.250Z", "lifecyclestage": "lead",
        "nexadesk_amount": "1500",
    }
    assert body["archived"] is False and body["createdAt"] == "2025-03-01T12:00:00.250Z"
    assert body["id"].isdigit()


def test_instants_drop_zero_milliseconds_as_hubspot_prints_them(
        emu: HubSpotEmulator, api: HubSpot) -> None:
    emu.clock = Clock(T0)
    contact = api.crm.contacts.basic_api.get_by_id(create(api, firstname="Ada"))
    assert contact.properties["createdate"] == "2025-03-01T12:00:00Z"
    assert contact.created_at == T0


def test_get_returns_default_or_named_properties(emu: HubSpotEmulator, api: HubSpot) -> None:
    id_ = create(api, email="grace@example.com", lastname="Hopper", phone="+1 555 0100")
    basic = api.crm.contacts.basic_api
    default = basic.get_by_id(id_).properties
    assert set(default) == {"createdate", "email", "firstname", "hs_object_id",
                            "lastmodifieddate", "lastname"}
    assert default["firstname"] is None and default["lastname"] == "Hopper"
    named = basic.get_by_id(id_, properties=["phone", "company", "no_such_property"]).properties
    assert named == {"phone": "+1 555 0100", "company": None, "hs_object_id": id_,
                     "createdate": named["createdate"],
                     "lastmodifieddate": named["lastmodifieddate"]}


def test_unknown_ids_get_hubspots_404_bodies(emu: HubSpotEmulator, raw: httpx.Client) -> None:
    missing = raw.get("/crm/v3/objects/contacts/999999")
    assert missing.status_code == 404
    assert missing.json()["message"] == "resource not found"
    assert "category" not in missing.json()
    odd = raw.get("/crm/v3/objects/contacts/not-a-number")
    assert odd.status_code == 404
    assert odd.json()["category"] == "OBJECT_NOT_FOUND"
    assert odd.json()["context"] == {"id": ["not-a-number"]}


def test_id_property_email_looks_contacts_up_by_email(emu: HubSpotEmulator,
                                                      api: HubSpot) -> None:
    id_ = create(api, email="Linus@Example.com")
    basic = api.crm.contacts.basic_api
    assert basic.get_by_id("linus@example.com", id_property="email").id == id_
    basic.update("LINUS@example.com", SimplePublicObjectInput(properties={"firstname": "L"}),
                 id_property="email")
    assert emu.get(id_)["properties"]["firstname"] == "L"
    with pytest.raises(ApiException) as exc:
        basic.get_by_id("nobody@example.com", id_property="email")
    assert exc.value.status == 404


# -- updates ----------------------------------------------------------------------------
def test_patch_changes_given_properties_clears_blanks_and_bumps_lastmodified(
        emu: HubSpotEmulator, api: HubSpot) -> None:
    clock = Clock(T0)
    emu.clock = clock
    id_ = create(api, firstname="Alan", company="Bletchley", phone="1")
    clock.tick(seconds=5, milliseconds=7)
    updated = api.crm.contacts.basic_api.update(
        id_, SimplePublicObjectInput(properties={"company": "", "phone": "2"}))
    assert "company" not in updated.properties and updated.properties["phone"] == "2"
    assert updated.properties["firstname"] == "Alan"
    assert updated.properties["lastmodifieddate"] == "2025-03-01T12:00:05.007Z"
    assert updated.properties["createdate"] == "2025-03-01T12:00:00Z"


def test_patch_of_a_missing_contact_is_404(emu: HubSpotEmulator, api: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        api.crm.contacts.basic_api.update("424242", SimplePublicObjectInput(properties={}))
    assert exc.value.status == 404


def test_validation_lists_every_invalid_property_and_writes_nothing(
        emu: HubSpotEmulator, api: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        create(api, email="not-an-email", favourite_colour="blue", hs_lead_status="Nope",
               hubspot_owner_id="123", lastmodifieddate="2025-01-01", nexadesk_amount="lots")
    assert exc.value.status == 400
    body = error_of(exc)
    assert body["category"] == "VALIDATION_ERROR"
    codes = {e["context"]["propertyName"][0]: e["code"] for e in body["errors"]}
    assert codes == {"email": "INVALID_EMAIL", "favourite_colour": "PROPERTY_DOESNT_EXIST",
                     "hs_lead_status": "INVALID_OPTION", "hubspot_owner_id": "INVALID_OWNER_ID",
                     "lastmodifieddate": "READ_ONLY_VALUE", "nexadesk_amount": "INVALID_DOUBLE"}
    prefix = "Property values were not valid: "
    assert body["message"].startswith(prefix)
    details = json.loads(body["message"][len(prefix):])
    assert {d["name"]: d["error"] for d in details} == codes
    assert "Email address not-an-email is invalid" in {d["message"] for d in details}
    assert emu.contacts() == []


def test_invalid_option_message_lists_the_allowed_options(emu: HubSpotEmulator,
                                                         api: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        create(api, lifecyclestage="prospect")
    message = error_of(exc)["errors"][0]["message"]
    assert message.startswith("prospect was not one of the allowed options: [")
    assert 'value: "salesqualifiedlead"' in message


def test_an_email_another_contact_has_is_409_with_the_existing_id(
        emu: HubSpotEmulator, api: HubSpot) -> None:
    first = create(api, email="katherine@example.com")
    with pytest.raises(ApiException) as exc:
        create(api, email="Katherine@EXAMPLE.com")
    assert exc.value.status == 409
    body = error_of(exc)
    assert (body["category"], body["message"]) == (
        "CONFLICT", f"Contact already exists. Existing ID: {first}")
    other = create(api, email="dorothy@example.com")
    with pytest.raises(ApiException) as exc:
        api.crm.contacts.basic_api.update(
            other, SimplePublicObjectInput(properties={"email": "katherine@example.com"}))
    assert exc.value.status == 409 and first in error_of(exc)["message"]
    assert len(emu.contacts()) == 2


def test_lifecycle_stage_moves_forward_only_until_it_is_cleared(
        emu: HubSpotEmulator, api: HubSpot) -> None:
    basic = api.crm.contacts.basic_api
    id_ = create(api, lifecyclestage="customer")

    def set_stage(stage: str) -> str | None:
        body = SimplePublicObjectInput(properties={"lifecyclestage": stage})
        return basic.update(id_, body).properties.get("lifecyclestage")

    # HubSpot accepts a backward move without an error and keeps the later stage.
    assert set_stage("lead") == "customer"
    assert set_stage("evangelist") == "evangelist"
    assert set_stage("") is None
    assert set_stage("lead") == "lead"


def test_owners_must_exist_and_be_active(emu: HubSpotEmulator, api: HubSpot) -> None:
    active = emu.add_owner("avery@example.com", "Avery", "Stone")
    gone = emu.add_owner("old@example.com", "Old", "Hand", active=False)
    id_ = create(api, hubspot_owner_id=active)
    assert emu.get(id_)["properties"]["hubspot_owner_id"] == active
    with pytest.raises(ApiException) as exc:
        create(api, hubspot_owner_id=gone)
    assert error_of(exc)["errors"][0]["code"] == "INVALID_OWNER_ID"


# -- archive and list -------------------------------------------------------------------
def test_delete_archives_and_archived_contacts_list_separately(
        emu: HubSpotEmulator, api: HubSpot, raw: httpx.Client) -> None:
    keep, drop = create(api, firstname="Keep"), create(api, firstname="Drop", email="d@x.io")
    assert raw.delete(f"/crm/v3/objects/contacts/{drop}").status_code == 204
    assert raw.delete(f"/crm/v3/objects/contacts/{drop}").status_code == 204
    basic = api.crm.contacts.basic_api
    with pytest.raises(ApiException):
        basic.get_by_id(drop)
    archived = basic.get_by_id(drop, archived=True)
    assert archived.archived is True and archived.archived_at is not None
    assert [c.id for c in basic.get_page().results] == [keep]
    listed = basic.get_page(archived=True).results
    assert [c.id for c in listed] == [drop] and listed[0].archived_at is not None
    # An archived contact's email is free again.
    assert create(api, email="d@x.io") not in (keep, drop)
    assert emu.counts["archive"] == 2 and emu.counts["list_archived"] == 1


def test_list_pages_with_an_id_cursor(emu: HubSpotEmulator, api: HubSpot,
                                      raw: httpx.Client) -> None:
    ids = emu.seed(25, seed=3)
    seen, after = [], None
    while True:
        page = api.crm.contacts.basic_api.get_page(limit=10, after=after, properties=["email"])
        seen += [c.id for c in page.results]
        assert all(set(c.properties) >= {"email", "hs_object_id"} for c in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
        assert f"after={after}" in page.paging.next.link
    assert seen == ids
    assert raw.get("/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400


def test_a_write_between_two_list_pages_shows_on_the_second(
        emu: HubSpotEmulator, raw: httpx.Client) -> None:
    """Listing pages from an id index kept until the next write: the next page must
    see every write made since the last one."""
    ids = emu.seed(6, seed=4)

    def page(after: str | None = None, archived: bool = False) -> tuple[list[str], str | None]:
        params = {"limit": 3, "archived": str(archived).lower()}
        if after:
            params["after"] = after
        body = raw.get("/crm/v3/objects/contacts", params=params).json()
        cursor = body.get("paging", {}).get("next", {}).get("after")
        return [c["id"] for c in body["results"]], cursor

    assert page() == (ids[:3], ids[3])
    assert page(archived=True) == ([], None)
    assert raw.delete(f"/crm/v3/objects/contacts/{ids[4]}").status_code == 204
    new = emu.add_contact(firstname="New")
    assert page(ids[3]) == ([ids[3], ids[5], new], None)
    assert page(archived=True) == ([ids[4]], None)
    emu.merge(ids[0], ids[1])
    assert page() == ([ids[0], ids[2], ids[3]], ids[5])


# -- owners and properties --------------------------------------------------------------
def test_owners_api_filters_by_email_and_pages(emu: HubSpotEmulator, api: HubSpot) -> None:
    ids = [emu.add_owner(f"rep{i}@example.com", f"Rep{i}", "X") for i in range(3)]
    gone = emu.add_owner("gone@example.com", active=False)
    owners = api.crm.owners.owners_api
    first = owners.get_page(limit=2)
    assert [o.id for o in first.results] == ids[:2]
    rest = owners.get_page(limit=2, after=first.paging.next.after)
    assert [o.id for o in rest.results] == ids[2:] and rest.paging is None
    match = owners.get_page(email="REP1@example.com").results
    assert [(o.id, o.first_name, o.type) for o in match] == [(ids[1], "Rep1", "PERSON")]
    assert [o.id for o in owners.get_page(archived=True).results] == [gone]
    assert emu.counts["owners"] == 4


def test_properties_api_describes_standard_and_custom_properties(
        emu: HubSpotEmulator, api: HubSpot) -> None:
    core = api.crm.properties.core_api
    names = {p.name: p for p in core.get_all("contacts").results}
    assert {"firstname", "lastname", "email", "phone", "company", "message", "hs_lead_status",
            "lifecyclestage", "hubspot_owner_id", "lastmodifieddate", "createdate",
            "hs_object_id", "hs_merged_object_ids", "nexadesk_source", "nexadesk_amount",
            "nexadesk_tags"} <= set(names)
    stage = core.get_by_name("contacts", "lifecyclestage")
    assert [o.value for o in sorted(stage.options, key=lambda o: o.display_order)] == [
        "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
        "customer", "evangelist", "other"]
    assert "OPEN_DEAL" in {o.value for o in names["hs_lead_status"].options}
    amount = names["nexadesk_amount"]
    assert amount.type == "number" and not amount.hubspot_defined
    assert names["lastmodifieddate"].modification_metadata.read_only_value is True
    with pytest.raises(PropertiesApiException) as exc:
        core.get_by_name("contacts", "no_such_property")
    assert exc.value.status == 404
    assert emu.counts["properties"] == 3


# -- direct methods ---------------------------------------------------------------------
def test_custom_properties_can_make_tags_a_multi_checkbox() -> None:
    emu = HubSpotEmulator(custom_properties={"nexadesk_tags": {
        "type": "enumeration", "fieldType": "checkbox", "options": ["b2b", "ecommerce"]}})
    id_ = emu.add_contact(nexadesk_tags="b2b;ecommerce")
    assert emu.get(id_)["properties"]["nexadesk_tags"] == "b2b;ecommerce"
    with pytest.raises(HsError) as exc:
        emu.add_contact(nexadesk_tags="b2b;retail", nexadesk_amount=5)
    assert [e["code"] for e in exc.value.body["errors"]] == [
        "INVALID_OPTION", "PROPERTY_DOESNT_EXIST"]


def test_direct_methods_are_not_counted_and_seed_is_reproducible() -> None:
    emu = HubSpotEmulator(clock=Clock(T0))
    ids = emu.seed(40, seed=7)
    again = HubSpotEmulator(clock=Clock(T0))
    assert [c["properties"] for c in again.contacts()] == []
    assert again.seed(40, seed=7) == ids
    assert [c["properties"] for c in again.contacts()] == [
        c["properties"] for c in emu.contacts()]
    props = [c["properties"] for c in emu.contacts()]
    assert any("email" not in p for p in props) and any("email" in p for p in props)
    assert len({p.get("lifecyclestage") for p in props}) > 2
    emu.update_contact(ids[0], firstname="Changed")
    emu.archive_contact(ids[1])
    assert emu.get(ids[1])["archived"] is True
    assert len(emu.contacts()) == 39 and len(emu.contacts(include_archived=True)) == 40
    assert emu.total == 0
