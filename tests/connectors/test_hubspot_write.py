"""Writing contacts through the batch APIs: a result per record, bad records reported
without blocking the rest, existing emails linked, no duplicate when an answer is
lost, the lifecycle stage moved backwards, owners mapped, and matching."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _hubspot_env import Sandbox, by_id
from known_ids import Known

from nexasync.connectors.base import CreateItem, UpdateItem
from nexasync.lead import normalise


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


def item(source: str, **fields: object) -> CreateItem:
    return CreateItem(source, normalise(fields))


@pytest.mark.parametrize("multi_status", [True, False], ids=["207", "split"])
def test_one_refused_record_does_not_block_the_rest(
    sandbox: Sandbox, multi_status: bool
) -> None:
    connector = sandbox.connector(multi_status=multi_status, truncate=[])
    items = [item(f"nd-{n}", visitor_name=f"Good {n}", visitor_email=f"g{n}@example.com")
             for n in range(6)]
    items[2] = item("nd-bad", visitor_name="Bad Email", visitor_email="not-an-email")
    items[4] = item("nd-long", visitor_name="Long", visitor_phone="1" * 70_000)  # never sent
    items.append(item("nd-x", visitor_name="Ada Lovelace", tags=["b", "a"],
                      expected_billing_amount=99.5, pipeline_stage="qualified"))

    results = connector.create(items)

    assert [r.ok for r in results] == [True, True, False, True, False, True, True]
    assert "INVALID_EMAIL" not in (results[2].error or "")  # the reason, in words
    assert "not-an-email is invalid" in (results[2].error or "")
    assert not results[2].retryable and results[2].id is None
    assert "phone takes 65536" in (results[4].error or "")
    stored = {c["properties"].get("email") or c["properties"]["lastname"]: c
              for c in sandbox.emulator.contacts()}
    assert len(stored) == 5
    ada = stored["Lovelace"]["properties"]
    assert (ada["nexadesk_tags"], ada["nexadesk_amount"], ada["hs_lead_status"]) == (
        "a;b", "99.5", "OPEN")
    assert {r.id for r in results if r.ok} == {c["id"] for c in stored.values()}
    if multi_status:
        assert sandbox.emulator.counts["batch_create"] == 1
    else:  # halved until the bad one stood alone
        assert 2 < sandbox.emulator.counts["batch_create"] <= 7


@pytest.mark.parametrize("multi_status", [True, False], ids=["207", "split"])
def test_a_create_whose_email_exists_links_to_the_existing_contact(
    sandbox: Sandbox, multi_status: bool
) -> None:
    existing = sandbox.contact(firstname="Ada", lastname="Lovelace", email="ada@example.com",
                               phone="+1 1")
    connector = sandbox.connector(multi_status=multi_status)

    results = connector.create([
        item("nd-1", visitor_name="New One", visitor_email="new@example.com"),
        item("nd-2", visitor_name="Ada L.", visitor_email="ADA@example.com"),
        item("nd-3", visitor_name="Other", visitor_email="other@example.com"),
    ])

    assert all(r.ok for r in results)
    assert results[1].id == existing
    record = results[1].record
    assert record is not None and record.fields["visitor_name"] == "Ada Lovelace"
    assert record.fields["visitor_phone"] == "+1 1"  # the record as it is, not as sent
    assert len(sandbox.emulator.contacts()) == 3
    assert sandbox.emulator.get(existing)["properties"]["firstname"] == "Ada"  # untouched


def test_emails_repeated_in_one_call_go_in_separate_batches(sandbox: Sandbox) -> None:
    connector = sandbox.connector(multi_status=False)
    results = connector.create([
        item("nd-1", visitor_name="Ada One", visitor_email="ada@example.com"),
        item("nd-2", visitor_name="Ada Two", visitor_email="Ada@Example.com"),
        item("nd-3", visitor_name="Grace", visitor_email="grace@example.com"),
    ])

    assert all(r.ok for r in results)
    assert results[1].id == results[0].id  # the second finds the first and links to it
    assert len(sandbox.emulator.contacts()) == 2
    assert sandbox.emulator.counts["batch_create"] == 2  # not failed by each other


@pytest.mark.parametrize("fault", ["ambiguous", "500"])
def test_a_create_whose_answer_is_lost_makes_no_duplicate(sandbox: Sandbox, fault: str) -> None:
    old = sandbox.contact(firstname="Old", lastname="Namesake")  # made before: never claimed
    sandbox.time.advance(minutes=10)
    connector = sandbox.connector()
    sandbox.emulator.faults.add(fault, match="batch_create")

    results = connector.create([
        item("nd-1", visitor_name="Ada Lovelace", visitor_email="ada@example.com"),
        item("nd-2", visitor_name="Old Namesake"),
        item("nd-3", visitor_name="Old Namesake"),
    ])

    assert all(r.ok for r in results), results
    contacts = sandbox.emulator.contacts()
    assert len(contacts) == 4  # old + three new, whether or not the lost call wrote
    assert len({r.id for r in results}) == 3 and old not in {r.id for r in results}
    assert {c["id"] for c in contacts} == {old, *(r.id for r in results)}


def test_updates_write_only_given_fields_clear_with_none_and_report_each_record(
    sandbox: Sandbox,
) -> None:
    a = sandbox.contact(firstname="Ada", lastname="Lovelace", email="ada@example.com",
                        company="Engines", message="hi")
    b = sandbox.contact(lastname="Hopper", email="grace@example.com")
    connector = sandbox.connector()

    results = connector.update([
        UpdateItem(a, {"visitor_company": None, "need_summary": "wants a bot"}),
        UpdateItem(b, {"visitor_email": "ada@example.com"}),  # another contact's email
        UpdateItem("424242", {"visitor_phone": "1"}),
        UpdateItem(a, {"visitor_phone": "+44 1"}),  # same id twice: both applied
        UpdateItem(b, {"assigned_rep_id": "rep-without-owner"}),  # nothing to send
    ])

    assert [r.ok for r in results] == [True, False, False, True, True]
    assert "already exists" in (results[1].error or "") and not results[1].gone
    assert results[2].gone and results[2].id == "424242"
    props = sandbox.emulator.get(a)["properties"]
    assert "company" not in props and props["message"] == "wants a bot"
    assert props["phone"] == "+44 1" and props["firstname"] == "Ada"
    assert sandbox.emulator.get(b)["properties"]["email"] == "grace@example.com"
    assert results[0].record is not None and results[0].record.version


def test_an_update_that_fails_whole_batches_is_split_to_the_bad_record(
    sandbox: Sandbox,
) -> None:
    ids = [sandbox.contact(lastname=f"C{n}") for n in range(5)]
    connector = sandbox.connector(multi_status=False)
    updates = [UpdateItem(id, {"visitor_email": f"c{n}@example.com"})
               for n, id in enumerate(ids)]
    updates[3] = UpdateItem(ids[3], {"visitor_email": "broken@"})

    results = connector.update(updates)

    assert [r.ok for r in results] == [True, True, True, False, True]
    assert "broken@ is invalid" in (results[3].error or "")
    emails = [sandbox.emulator.get(i)["properties"].get("email") for i in ids]
    assert emails == ["c0@example.com", "c1@example.com", "c2@example.com", None,
                      "c4@example.com"]


def test_a_transient_failure_is_retried(sandbox: Sandbox) -> None:
    a = sandbox.contact(lastname="A")
    connector = sandbox.connector()
    sandbox.emulator.faults.add("503", match="batch_update")
    assert connector.update([UpdateItem(a, {"visitor_phone": "1"})])[0].ok
    assert connector.stats["batch_update"] == 2


def test_an_outage_fails_records_as_retryable_and_stops_sending(sandbox: Sandbox) -> None:
    ids = [sandbox.contact(lastname=f"C{n}") for n in range(150)]
    connector = sandbox.connector()
    sandbox.emulator.faults.add("503", times=10, match="batch_update")
    results = connector.update([UpdateItem(i, {"visitor_phone": "1"}) for i in ids])
    assert not any(r.ok for r in results) and all(r.retryable for r in results)
    assert connector.stats["batch_update"] == 3  # one batch, retried; the second not sent


def test_moving_the_lifecycle_stage_backwards_clears_it_first(sandbox: Sandbox) -> None:
    customer = sandbox.contact(lastname="Customer", lifecyclestage="customer")
    lead = sandbox.contact(lastname="Lead", lifecyclestage="lead")
    connector = sandbox.connector(stage_property="lifecyclestage")

    # Without clearing, HubSpot would keep "customer" and answer success.
    results = connector.update([
        UpdateItem(customer, {"pipeline_stage": "new"}),
        UpdateItem(lead, {"pipeline_stage": "converted"}),
    ])

    assert all(r.ok for r in results)
    assert sandbox.emulator.get(customer)["properties"]["lifecyclestage"] == "lead"
    assert sandbox.emulator.get(lead)["properties"]["lifecyclestage"] == "customer"
    # One read of the current stages, one clearing update (the backward one only), the
    # update itself; the stage order is read once per connector.
    assert sandbox.emulator.counts["batch_update"] == 2
    assert sandbox.emulator.counts["batch_read"] == 1
    assert sandbox.emulator.counts["properties"] == 1
    records = by_id(connector.pull(None, Known()))
    assert records[customer].fields["pipeline_stage"] == "new"


def test_lead_status_updates_need_no_clearing(sandbox: Sandbox) -> None:
    a = sandbox.contact(lastname="A", hs_lead_status="OPEN_DEAL")
    connector = sandbox.connector()
    assert connector.update([UpdateItem(a, {"pipeline_stage": "new"})])[0].ok
    assert sandbox.emulator.get(a)["properties"]["hs_lead_status"] == "NEW"
    assert sandbox.emulator.counts == {"batch_update": 1}


def test_owners_map_by_rep_map_and_by_email(sandbox: Sandbox) -> None:
    morgan = sandbox.emulator.add_owner("morgan@example.com", "Morgan", "Lee")
    casey = sandbox.emulator.add_owner("Casey@Example.com", "Casey", "Park")
    sandbox.emulator.add_owner("gone@example.com", active=False)
    connector = sandbox.connector(rep_map={"rep-1": morgan})
    connector.set_rep_directory({"rep-2": "casey@example.com", "rep-3": "gone@example.com"})

    results = connector.create([
        item("nd-1", visitor_name="A", assigned_rep_id="rep-1"),
        item("nd-2", visitor_name="B", assigned_rep_id="rep-2"),
        item("nd-3", visitor_name="C", assigned_rep_id="rep-3"),  # inactive owner: unset
    ])

    owners = [sandbox.emulator.get(r.id or "")["properties"].get("hubspot_owner_id")
              for r in results]
    assert owners == [morgan, casey, None]
    assert sandbox.emulator.counts["owners"] == 1
    records = by_id(connector.pull(None, Known()))
    assert [records[r.id or ""].fields["assigned_rep_id"] for r in results] == [
        "rep-1", "rep-2", None]
    assert connector.project({"assigned_rep_id": "rep-3"}) == {}  # cannot be set: unknown

    # Owners are read lazily and kept: an idle pull reads none.
    sandbox.emulator.reset_counts()
    pull = connector.pull(None, Known())
    list(pull)
    sandbox.time.advance(seconds=30)
    sandbox.emulator.reset_counts()
    list(connector.pull(pull.cursor, Known()))
    assert "owners" not in sandbox.emulator.counts


def test_deletes_archive_and_count_gone_ids_as_done(sandbox: Sandbox) -> None:
    a = sandbox.contact(lastname="A")
    b = sandbox.contact(lastname="B")
    results = sandbox.connector().delete([a, "424242", a, b])
    assert all(r.ok for r in results) and [r.id for r in results] == [a, "424242", a, b]
    assert sandbox.emulator.contacts() == []
    assert sandbox.emulator.counts["batch_archive"] == 1


def test_match_by_email_and_by_name_without_one(sandbox: Sandbox) -> None:
    ada = sandbox.contact(firstname="Ada", lastname="Lovelace", email="ada@example.com")
    twin1 = sandbox.contact(firstname="Grace", lastname="Hopper")
    twin2 = sandbox.contact(firstname="grace", lastname="HOPPER", email="gh@example.com")
    solo = sandbox.contact(lastname="Solo")
    connector = sandbox.connector()

    found = connector.match([
        {"visitor_email": "ADA@example.com", "visitor_name": "Someone Else"},
        {"visitor_name": "Grace Hopper"},
        {"visitor_name": "Solo"},
        {"visitor_email": "nobody@example.com"},
        {},
    ])

    assert [[r.id for r in rs] for rs in found] == [[ada], [twin1], [solo], [], []]
    assert found[0][0].fields["visitor_name"] == "Ada Lovelace"
    assert twin2 not in {r.id for rs in found for r in rs}  # has an email: not a name match
    assert sandbox.emulator.counts["search"] == 2  # emails in one query, names in another
