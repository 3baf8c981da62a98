"""Writing Leads through sObject Collections: a result per record, no duplicates when
an answer is lost, converted leads left alone, owners mapped, and matching."""

from __future__ import annotations

import pytest
from _salesforce_env import Sandbox, by_id
from known_ids import Known

from nexasync.connectors.base import CreateItem, UpdateItem
from nexasync.lead import normalise


def item(source: str, **fields: object) -> CreateItem:
    return CreateItem(source, normalise(fields))


def test_create_validates_first_and_one_refused_record_does_not_block_the_rest(
    sandbox: Sandbox,
) -> None:
    connector = sandbox.connector()
    results = connector.create([
        item("nd-1", visitor_name="Ada Lovelace", visitor_email="ada@example.com",
             tags=["b", "a"], expected_billing_amount=99.5, pipeline_stage="qualified"),
        item("nd-2", visitor_email="nameless@example.com"),  # no LastName: never sent
        item("nd-3", visitor_name="Bad Email", visitor_email="not-an-email"),  # Salesforce says no
        item("nd-4", visitor_name="Grace Hopper", visitor_company=""),
    ])

    assert [r.ok for r in results] == [True, False, False, True]
    assert "LastName" in (results[1].error or "")
    assert "INVALID_EMAIL_ADDRESS" in (results[2].error or "") and not results[2].retryable
    ada = sandbox.emulator.get(results[0].id or "")
    assert ada is not None
    assert (ada["FirstName"], ada["LastName"], ada["Company"], ada["Status"]) == (
        "Ada", "Lovelace", "[not provided]", "Working - Contacted")
    assert (ada["NexaDesk_Tags__c"], ada["Expected_Amount__c"]) == ("a;b", 99.5)
    assert len(sandbox.emulator.leads()) == 2
    assert sandbox.emulator.counts["collections_create"] == 1


def test_upsert_by_external_id_is_idempotent(sandbox: Sandbox) -> None:
    connector = sandbox.connector(external_id_field="NexaDesk_Id__c")
    create = [item("nd-1", visitor_name="Ada Lovelace", visitor_email="ada@example.com")]

    first, second = connector.create(create), connector.create(create)

    assert first[0].ok and second[0].ok and first[0].id == second[0].id
    leads = sandbox.emulator.leads()
    assert len(leads) == 1 and leads[0]["NexaDesk_Id__c"] == "nd-1"
    assert sandbox.emulator.counts["collections_upsert"] == 2


@pytest.mark.parametrize("fault", ["ambiguous", "500"])
def test_a_create_whose_answer_is_lost_makes_no_duplicate(sandbox: Sandbox, fault: str) -> None:
    sandbox.lead(FirstName="Old", LastName="Namesake")  # created before: never claimed
    sandbox.clock.advance(minutes=10)
    connector = sandbox.connector()
    sandbox.emulator.faults.add(fault, match="collections_create")

    results = connector.create([
        item("nd-1", visitor_name="Ada Lovelace", visitor_email="ada@example.com"),
        item("nd-2", visitor_name="Old Namesake"),
        item("nd-3", visitor_name="Old Namesake"),
    ])

    assert all(r.ok for r in results), results
    assert len({r.id for r in results}) == 3
    names = sorted(lead["Name"] for lead in sandbox.emulator.leads())
    assert names == ["Ada Lovelace", "Old Namesake", "Old Namesake", "Old Namesake"]
    # The first call was written ("ambiguous") or not ("500"): only the missing are resent.
    assert sandbox.emulator.counts["collections_create"] == (1 if fault == "ambiguous" else 2)


def test_update_sends_only_the_given_fields_with_a_result_per_record(sandbox: Sandbox) -> None:
    live = sandbox.lead(FirstName="Ada", LastName="Lovelace", Phone="+1 1", Description="d")
    deleted = sandbox.lead(LastName="Deleted")
    sandbox.emulator.delete_lead(deleted)
    purged = sandbox.lead(LastName="Purged")
    sandbox.emulator.purge(purged)
    bad = sandbox.lead(LastName="Bad")
    connector = sandbox.connector()

    results = connector.update([
        UpdateItem(live, {"visitor_phone": "+1 2", "need_summary": None}),
        UpdateItem(deleted, {"visitor_phone": "+1 3"}),
        UpdateItem(purged, {"visitor_phone": "+1 4"}),
        UpdateItem(bad, {"visitor_email": "nope"}),
        UpdateItem(bad, {"visitor_name": None}),  # LastName cannot be cleared: never sent
    ])

    assert [(r.ok, r.gone) for r in results] == [
        (True, False), (False, True), (False, True), (False, False), (False, False)]
    assert results[0].id == live
    assert "INVALID_EMAIL_ADDRESS" in (results[3].error or "")
    lead = sandbox.emulator.get(live)
    assert lead is not None
    assert (lead["Phone"], lead["Description"], lead["FirstName"]) == ("+1 2", None, "Ada")
    assert sandbox.emulator.counts["collections_update"] == 1


def test_a_converted_lead_is_never_written(sandbox: Sandbox) -> None:
    converted = sandbox.lead(LastName="Conv")
    sandbox.emulator.convert_lead(converted)
    # Known from a pull: skipped without a request.
    connector = sandbox.connector()
    list(connector.pull(None, Known()))
    sandbox.emulator.reset_counts()
    [skipped] = connector.update([UpdateItem(converted, {"visitor_phone": "1"})])
    assert (skipped.ok, skipped.skipped, skipped.error) == (False, "converted lead", None)
    assert sandbox.emulator.total == 0
    # Unknown to a fresh connector: Salesforce's refusal reads as the same skip.
    [refused] = sandbox.connector().update([UpdateItem(converted, {"visitor_phone": "1"})])
    assert (refused.ok, refused.skipped, refused.error) == (False, "converted lead", None)


def test_delete_with_already_gone_records_as_success(sandbox: Sandbox) -> None:
    live, deleted, purged = (sandbox.lead(LastName=n) for n in ("Live", "Deleted", "Purged"))
    sandbox.emulator.delete_lead(deleted)
    sandbox.emulator.purge(purged)

    results = sandbox.connector().delete([live, deleted, purged])

    assert [(r.ok, r.gone, r.id) for r in results] == [
        (True, False, live), (True, True, deleted), (True, True, purged)]
    assert sandbox.emulator.get(live)["IsDeleted"] is True  # type: ignore[index]
    assert sandbox.emulator.counts["collections_delete"] == 1


def test_writes_go_in_chunks_of_two_hundred(sandbox: Sandbox) -> None:
    connector = sandbox.connector()
    results = connector.create([item(f"nd-{i}", visitor_name=f"Lead {i}") for i in range(250)])
    assert all(r.ok for r in results)
    ids = [r.id or "" for r in results]
    updated = connector.update([UpdateItem(i, {"source": "Web"}) for i in ids])
    assert [r.id for r in updated if r.ok] == ids
    assert all(r.ok for r in connector.delete(ids))
    assert sandbox.emulator.leads() == []
    counts = sandbox.emulator.counts
    assert (counts["collections_create"], counts["collections_update"],
            counts["collections_delete"]) == (2, 2, 2)


def test_the_daily_limit_is_reported_and_not_retried(sandbox: Sandbox) -> None:
    ids = [sandbox.lead(LastName=f"L{i}") for i in range(250)]
    connector = sandbox.connector()
    list(connector.pull(None, Known()))
    sandbox.emulator.daily_api_limit = sandbox.emulator.api_requests_used
    sandbox.emulator.reset_counts()

    results = connector.update([UpdateItem(i, {"source": "Web"}) for i in ids])

    assert all(not r.ok and r.retryable for r in results)
    assert all("REQUEST_LIMIT_EXCEEDED" in (r.error or "") for r in results)
    assert [r.id for r in results] == ids
    assert sandbox.emulator.counts["collections_update"] == 1  # the second chunk is not sent


def test_transient_write_failures_are_retried(sandbox: Sandbox) -> None:
    lead = sandbox.lead(LastName="X")
    connector = sandbox.connector()
    sandbox.emulator.faults.add("503", times=2, match="collections_update")
    [result] = connector.update([UpdateItem(lead, {"visitor_phone": "7"})])
    assert result.ok
    assert sandbox.emulator.counts["collections_update"] == 3


def test_owners_by_rep_map_and_by_email(sandbox: Sandbox) -> None:
    mapped = sandbox.emulator.add_user("mapped@example.com", "Mapped Rep")
    by_email = sandbox.emulator.add_user("Rep.Two@Example.com", "Second Rep")
    sandbox.emulator.add_user("inactive@example.com", "Gone Rep", is_active=False)
    connector = sandbox.connector(rep_map={"rep-1": mapped})
    connector.set_rep_directory({"rep-2": "rep.two@example.com",
                                 "rep-3": "inactive@example.com"})

    results = connector.create([
        item("nd-1", visitor_name="A One", assigned_rep_id="rep-1"),
        item("nd-2", visitor_name="B Two", assigned_rep_id="rep-2"),
        item("nd-3", visitor_name="C Three", assigned_rep_id="rep-3"),  # no active user
    ])
    owners = [sandbox.emulator.get(r.id or "")["OwnerId"] for r in results]  # type: ignore[index]
    api_user = sandbox.emulator.store.api_user_id
    assert owners == [mapped, by_email, api_user]
    assert sandbox.emulator.counts["query"] == 1  # the users, once

    records = by_id(connector.pull(None, Known()))
    assert [records[r.id or ""].fields.get("assigned_rep_id") for r in results] == [
        "rep-1", "rep-2", None]
    assert "assigned_rep_id" not in records[results[2].id or ""].fields  # unknown, not blank
    assert connector.project({"assigned_rep_id": "rep-2"}) == {"assigned_rep_id": "rep-2"}
    assert connector.project({"assigned_rep_id": "rep-3"}) == {}
    assert sandbox.emulator.counts["query"] == 1


def test_no_users_query_when_no_owner_needs_one(sandbox: Sandbox) -> None:
    sandbox.lead(LastName="X")
    connector = sandbox.connector(rep_map={"rep-1": "005000000000001AAA"})
    list(connector.pull(None, Known()))  # no rep directory: nothing to look up by email
    assert sandbox.emulator.counts["query"] == 0


def test_match_by_email_and_by_name(sandbox: Sandbox) -> None:
    ada = sandbox.lead(FirstName="Ada", LastName="Lovelace", Email="ADA@example.com")
    twin = sandbox.lead(FirstName="Ada", LastName="Lovelace", Email="ada@EXAMPLE.com")
    obrien = sandbox.lead(FirstName="Pat", LastName="O'Brien")
    sandbox.emulator.delete_lead(sandbox.lead(LastName="Deleted", Email="del@example.com"))
    long_name = sandbox.lead(FirstName="F", LastName="L" * 80)
    connector = sandbox.connector()

    matches = connector.match([
        {"visitor_email": "ada@example.com", "visitor_name": "Someone Else"},
        {"visitor_email": None, "visitor_name": "pat o'brien"},
        {"visitor_name": "F " + "L" * 120},  # truncated on write: found as stored
        {"visitor_email": "del@example.com"},
        {"visitor_email": "nobody@example.com"},
        {},
    ])

    assert [sorted(r.id for r in m) for m in matches] == [
        sorted([ada, twin]), [obrien], [long_name], [], [], []]
    assert matches[0][0].fields["visitor_email"] == "ada@example.com"
    assert sandbox.emulator.counts["query"] == 1


def test_match_many_emails_splits_the_query(sandbox: Sandbox) -> None:
    ids = sandbox.emulator.seed(5)
    seeded = [sandbox.emulator.get(i)["Email"] for i in ids]  # type: ignore[index]
    leads = [{"visitor_email": e} for e in seeded]
    leads += [{"visitor_email": f"someone.with.a.long.address.{i}@example.com"}
              for i in range(300)]
    connector = sandbox.connector()
    matches = connector.match(leads)
    assert [len(m) for m in matches[:5]] == [1 if e else 0 for e in seeded]
    assert all(m == [] for m in matches[5:])
    assert sandbox.emulator.counts["query"] > 1


def test_a_rate_limit_answer_is_not_retried_within_the_cycle(sandbox: Sandbox) -> None:
    lead = sandbox.lead(LastName="X")
    connector = sandbox.connector()
    sandbox.emulator.faults.add("429", match="collections_update", retry_after=0)
    [result] = connector.update([UpdateItem(lead, {"visitor_phone": "7"})])
    assert (result.ok, result.retryable, result.id) == (False, True, lead)
    assert "REQUEST_LIMIT_EXCEEDED" in (result.error or "")
    assert sandbox.emulator.counts["collections_update"] == 1


def test_a_create_that_times_out_after_it_was_written_makes_no_duplicate(
    sandbox: Sandbox,
) -> None:
    connector = sandbox.connector(timeout=0.3)
    list(connector.pull(None, Known()))  # logged in
    sandbox.emulator.reset_counts()
    faults = sandbox.emulator.faults
    faults.pause_after, faults.pause_at = True, 1  # the create lands; its answer never comes

    results = connector.create([item("nd-1", visitor_name="Ada Lovelace",
                                      visitor_email="ada@example.com")])
    faults.release()

    assert results[0].ok and results[0].id
    assert [lead["Id"] for lead in sandbox.emulator.leads()] == [results[0].id]
    assert sandbox.emulator.counts["collections_create"] == 1
