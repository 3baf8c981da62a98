"""The HubSpot emulator's batch endpoints through hubspot-api-client and httpx:
all-or-nothing creates and updates, multi-status answers (trace ids, missing ids),
duplicate emails and ids, the 100-input limit, and results out of input order."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
)

from nexasync.sandbox._http import ServerThread
from nexasync.sandbox.hubspot import HubSpotEmulator

BATCH = "/crm/v3/objects/contacts/batch"


@pytest.fixture
def emu(served: tuple[HubSpotEmulator, ServerThread]) -> HubSpotEmulator:
    emu = served[0]
    emu.clock = lambda: datetime.now(timezone.utc)
    emu.reset()
    return emu


def creates(*props: dict[str, object]) -> BatchInputSimplePublicObjectBatchInputForCreate:
    return BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[{"properties": p} for p in props])


def error_of(exc: pytest.ExceptionInfo[ApiException]) -> dict:
    return dict(json.loads(exc.value.body))


# -- create -----------------------------------------------------------------------------
def test_batch_create_answers_201_with_every_contact(emu: HubSpotEmulator,
                                                     api: HubSpot) -> None:
    emails = [f"person{i}@example.com" for i in range(12)]
    answer = api.crm.contacts.batch_api.create(creates(*({"email": e} for e in emails)))
    assert answer.status == "COMPLETE" and answer.completed_at is not None
    by_email = {r.properties["email"]: r.id for r in answer.results}
    assert set(by_email) == set(emails)
    assert {c["id"] for c in emu.contacts()} == set(by_email.values())
    # HubSpot does not answer in input order: clients match results by a property.
    assert [r.properties["email"] for r in answer.results] != emails
    assert emu.counts["batch_create"] == 1


def test_one_invalid_input_fails_the_whole_create_batch(emu: HubSpotEmulator,
                                                        api: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        api.crm.contacts.batch_api.create(creates(
            {"email": "ok@example.com"}, {"email": "broken@", "hs_lead_status": "WHATEVER"}))
    assert exc.value.status == 400
    body = error_of(exc)
    assert body["category"] == "VALIDATION_ERROR"
    assert {(e["code"], e["context"]["propertyName"][0]) for e in body["errors"]} == {
        ("INVALID_EMAIL", "email"), ("INVALID_OPTION", "hs_lead_status")}
    assert emu.contacts() == []


def test_an_existing_email_fails_the_create_batch_with_409(emu: HubSpotEmulator,
                                                           api: HubSpot) -> None:
    existing = emu.add_contact(email="taken@example.com")
    with pytest.raises(ApiException) as exc:
        api.crm.contacts.batch_api.create(creates({"email": "new@example.com"},
                                                  {"email": "TAKEN@example.com"}))
    assert exc.value.status == 409
    assert error_of(exc)["message"] == f"Contact already exists. Existing ID: {existing}"
    assert [c["id"] for c in emu.contacts()] == [existing]


def test_an_email_repeated_inside_a_create_batch_fails_it(emu: HubSpotEmulator,
                                                          api: HubSpot) -> None:
    with pytest.raises(ApiException) as exc:
        api.crm.contacts.batch_api.create(creates({"email": "twin@example.com"},
                                                  {"email": "Twin@Example.com"}))
    assert exc.value.status == 400
    body = error_of(exc)
    assert body["category"] == "VALIDATION_ERROR" and "twin@example.com" in body["message"]
    assert emu.contacts() == []


def test_trace_ids_turn_on_multi_status_for_creates(emu: HubSpotEmulator,
                                                    raw: httpx.Client) -> None:
    existing = emu.add_contact(email="taken@example.com")
    inputs = [
        {"objectWriteTraceId": "a", "properties": {"email": "fine@example.com"}},
        {"objectWriteTraceId": "b", "properties": {"email": "nope"}},
        {"objectWriteTraceId": "c", "properties": {"email": "taken@example.com"}},
        {"objectWriteTraceId": "d", "properties": {"email": "twin@example.com"}},
        {"objectWriteTraceId": "e", "properties": {"email": "twin@example.com"}},
    ]
    answer = raw.post(f"{BATCH}/create", json={"inputs": inputs})
    assert answer.status_code == 207
    body = answer.json()
    made = {r["objectWriteTraceId"]: r for r in body["results"]}
    assert set(made) == {"a", "d"}
    errors = {e["context"]["objectWriteTraceId"][0]: e for e in body["errors"]}
    assert body["numErrors"] == 3 and set(errors) == {"b", "c", "e"}
    assert errors["b"]["category"] == "VALIDATION_ERROR"
    assert errors["c"]["message"] == f"Contact already exists. Existing ID: {existing}"
    assert errors["e"]["message"].endswith(made["d"]["id"])
    assert len(emu.contacts()) == 3


# -- update -----------------------------------------------------------------------------
def test_batch_update_writes_found_ids_and_reports_missing_ones(
        emu: HubSpotEmulator, api: HubSpot) -> None:
    a, b = emu.add_contact(firstname="A"), emu.add_contact(firstname="B")
    body = BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": a, "properties": {"firstname": "A2"}},
        {"id": "987654", "properties": {"firstname": "ghost"}},
        {"id": b, "properties": {"lastname": "Bee"}},
    ])
    answer = api.crm.contacts.batch_api.update(body)
    assert answer.num_errors == 1
    error = answer.errors[0]
    assert (error.category, error.context) == ("OBJECT_NOT_FOUND", {"ids": ["987654"]})
    assert {r.id for r in answer.results} == {a, b}
    assert emu.get(a)["properties"]["firstname"] == "A2"
    assert emu.get(b)["properties"]["lastname"] == "Bee"


def test_batch_update_without_errors_answers_200(emu: HubSpotEmulator,
                                                 raw: httpx.Client) -> None:
    a = emu.add_contact(firstname="A")
    answer = raw.post(f"{BATCH}/update",
                      json={"inputs": [{"id": a, "properties": {"firstname": "Z"}}]})
    assert answer.status_code == 200 and "errors" not in answer.json()


def test_one_invalid_input_fails_the_whole_update_batch(emu: HubSpotEmulator,
                                                        api: HubSpot) -> None:
    a, b = emu.add_contact(firstname="A"), emu.add_contact(firstname="B")
    body = BatchInputSimplePublicObjectBatchInput(inputs=[
        {"id": a, "properties": {"firstname": "A2"}},
        {"id": b, "properties": {"favourite": "x"}},
    ])
    with pytest.raises(ApiException) as exc:
        api.crm.contacts.batch_api.update(body)
    assert exc.value.status == 400
    assert error_of(exc)["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert emu.get(a)["properties"]["firstname"] == "A"


def test_repeated_ids_are_refused(emu: HubSpotEmulator, raw: httpx.Client) -> None:
    a = emu.add_contact(firstname="A")
    inputs = [{"id": a, "properties": {"firstname": "1"}},
              {"id": a, "properties": {"firstname": "2"}}]
    answer = raw.post(f"{BATCH}/update", json={"inputs": inputs})
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        f"Duplicate IDs found in batch input: [{a}]. IDs must be unique")
    assert answer.json()["context"] == {"ids": [a]}
    assert emu.get(a)["properties"]["firstname"] == "A"


def test_update_trace_ids_report_invalid_inputs_one_by_one(emu: HubSpotEmulator,
                                                           raw: httpx.Client) -> None:
    a, b = emu.add_contact(firstname="A"), emu.add_contact(firstname="B")
    inputs = [{"id": a, "objectWriteTraceId": "t1", "properties": {"firstname": "A2"}},
              {"id": b, "objectWriteTraceId": "t2", "properties": {"email": "bad"}},
              {"id": "555555", "objectWriteTraceId": "t3", "properties": {}}]
    answer = raw.post(f"{BATCH}/update", json={"inputs": inputs})
    assert answer.status_code == 207
    errors = {e["context"]["objectWriteTraceId"][0]: e["category"]
              for e in answer.json()["errors"]}
    assert errors == {"t2": "VALIDATION_ERROR", "t3": "OBJECT_NOT_FOUND"}
    assert emu.get(a)["properties"]["firstname"] == "A2"


# -- read and archive -------------------------------------------------------------------
def test_batch_read_answers_207_naming_the_ids_it_could_not_find(
        emu: HubSpotEmulator, api: HubSpot) -> None:
    a, b = emu.add_contact(email="a@example.com"), emu.add_contact(email="b@example.com")
    emu.archive_contact(b)
    body = BatchReadInputSimplePublicObjectId(
        inputs=[{"id": a}, {"id": b}, {"id": "31337"}], properties=["email"],
        properties_with_history=[])
    answer = api.crm.contacts.batch_api.read(body)
    assert [r.id for r in answer.results] == [a]
    assert answer.results[0].properties["email"] == "a@example.com"
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": [b, "31337"]}
    archived = api.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": b}], properties=[],
                                           properties_with_history=[]), archived=True)
    assert [(r.id, r.archived) for r in archived.results] == [(b, True)]


def test_batch_read_by_email(emu: HubSpotEmulator, raw: httpx.Client) -> None:
    a = emu.add_contact(email="Hedy@Example.com")
    answer = raw.post(f"{BATCH}/read", json={
        "idProperty": "email", "properties": ["email"],
        "inputs": [{"id": "hedy@example.com"}, {"id": "nobody@example.com"}]})
    assert answer.status_code == 207
    assert [r["id"] for r in answer.json()["results"]] == [a]
    assert answer.json()["errors"][0]["context"] == {"ids": ["nobody@example.com"]}


def test_batch_archive_answers_204_and_ignores_unknown_ids(emu: HubSpotEmulator,
                                                           api: HubSpot) -> None:
    a, b = emu.add_contact(firstname="A"), emu.add_contact(firstname="B")
    api.crm.contacts.batch_api.archive(
        BatchInputSimplePublicObjectId(inputs=[{"id": a}, {"id": "777777"}]))
    assert [c["id"] for c in emu.contacts()] == [b]
    assert emu.get(a)["archived"] is True and emu.counts["batch_archive"] == 1


@pytest.mark.parametrize("endpoint", ["create", "update", "read", "archive"])
def test_more_than_100_inputs_is_400(emu: HubSpotEmulator, raw: httpx.Client,
                                     endpoint: str) -> None:
    inputs = [{"id": str(1000 + i), "properties": {"firstname": "x"}} for i in range(101)]
    answer = raw.post(f"{BATCH}/{endpoint}", json={"inputs": inputs, "properties": []})
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"
    assert emu.contacts() == []
    assert raw.post(f"{BATCH}/{endpoint}", json={"inputs": inputs[:100], "properties": []}
                    ).status_code in (200, 201, 204, 207)
