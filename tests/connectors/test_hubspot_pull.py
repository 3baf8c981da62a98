"""Reading contacts: first and incremental pulls, the cost of an idle cycle, archived
contacts as deletions of known ids only, and merges that are never deletions."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from _hubspot_env import Sandbox, by_id
from known_ids import Known


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


def test_first_pull_reads_every_contact_in_canonical_form(sandbox: Sandbox) -> None:
    ada = sandbox.contact(firstname="Ada", lastname="Lovelace", email="Ada@Example.com",
                          hs_lead_status="CONNECTED", nexadesk_tags="vip;b2b",
                          nexadesk_amount="1200.00", message=" wants a bot ",
                          nexadesk_source="chat")
    odd = sandbox.contact(lastname="Odd", hs_lead_status="BAD_TIMING")
    gone = sandbox.contact(lastname="Gone")
    sandbox.emulator.archive_contact(gone)

    pull = sandbox.connector().pull(None, Known())
    records = by_id(pull)

    assert set(records) == {ada, odd}
    assert records[ada].fields == {
        "visitor_name": "Ada Lovelace", "visitor_email": "ada@example.com",
        "visitor_phone": None, "visitor_company": None, "need_summary": "wants a bot",
        "source": "chat", "pipeline_stage": "contacted", "expected_billing_amount": 1200,
        "tags": ("b2b", "vip"), "assigned_rep_id": None,
    }
    assert records[ada].modified_at is not None and records[ada].modified_at.tzinfo
    assert records[ada].version == "2024-05-01T12:00:01.000Z"
    assert records[odd].fields["pipeline_stage"] == "lost"
    assert pull.cursor is not None and pull.cursor["watermark"] == "2024-05-01T12:00:02.000Z"
    json.dumps(pull.cursor)  # stored as JSON by the engine


def test_an_unmapped_stage_is_unknown_and_an_unreadable_contact_is_invalid(
    sandbox: Sandbox,
) -> None:
    sandbox.emulator.update_contact(sandbox.contact(lastname="X"), hs_lead_status="IN_PROGRESS")
    custom = sandbox.contact(lastname="Custom", hs_lead_status="OPEN_DEAL")
    connector = sandbox.connector(stage_map_back={"IN_PROGRESS": "contacted"},
                                  stage_map={"converted": "OPEN"})
    records = list(connector.pull(None, Known()))
    # OPEN_DEAL's way back is the default "converted"; a config without it would leave it
    # out. Only the stage is dropped: the rest of the contact still syncs.
    assert [r.fields.get("pipeline_stage") for r in records] == ["contacted", "converted"]

    strict = sandbox.connector(stage_property="hs_lead_status",
                               stage_map_back={"OPEN_DEAL": "lost"})
    assert by_id(strict.pull(None, Known()))[custom].fields["pipeline_stage"] == "lost"


def test_incremental_pull_reads_changes_and_an_idle_one_costs_one_request(
    sandbox: Sandbox,
) -> None:
    old = sandbox.contact(lastname="Old", email="old@example.com")
    connector = sandbox.connector()
    first = connector.pull(None, Known())
    assert [r.id for r in first] == [old]

    new = sandbox.contact(lastname="New")
    sandbox.time.advance(seconds=1)
    sandbox.emulator.update_contact(old, phone="+1 555")
    sandbox.emulator.reset_counts()
    second = connector.pull(first.cursor, Known([old]))
    records = by_id(second)
    assert set(records) == {old, new}
    assert records[old].fields["visitor_phone"] == "+1 555"
    assert second.cursor["watermark"] > first.cursor["watermark"]

    # Nothing changes: one search, whose page holds the whole recent window and whose
    # total (the live contacts, as many as before) says nothing was archived.
    sandbox.time.advance(minutes=5)
    sandbox.emulator.reset_counts()
    idle = connector.pull(second.cursor, Known([old, new]))
    assert list(idle) == []
    assert sandbox.emulator.counts == {"search": 1}
    assert idle.cursor["watermark"] == second.cursor["watermark"]


def test_a_change_searchable_late_behind_the_watermark_is_read(sandbox: Sandbox) -> None:
    early = sandbox.contact(lastname="Early")
    connector = sandbox.connector(overlap_seconds=120)
    first = connector.pull(None, Known())
    assert [r.id for r in first] == [early]
    # A change committed late: the index shows it after a newer one was read.
    sandbox.emulator.store.hold_search_index()
    sandbox.time.advance(seconds=1)
    sandbox.emulator.update_contact(early, phone="+1 555")
    newer = sandbox.contact(lastname="Newer")
    sandbox.emulator.store.release_search_index([newer])
    sandbox.time.advance(seconds=30)
    second = connector.pull(first.cursor, Known([early]))
    assert [r.id for r in second] == [newer]
    sandbox.emulator.store.release_search_index()
    sandbox.time.advance(seconds=30)
    third = connector.pull(second.cursor, Known([early, newer]))
    assert [(r.id, r.fields["visitor_phone"]) for r in third] == [(early, "+1 555")]
    assert third.cursor["watermark"] == second.cursor["watermark"]  # it is older


def test_archived_contacts_are_deletions_of_known_ids_only(sandbox: Sandbox) -> None:
    linked = sandbox.contact(lastname="Linked")
    stranger = sandbox.contact(lastname="Stranger")
    kept = sandbox.contact(lastname="Kept")
    connector = sandbox.connector()
    first = connector.pull(None, Known([linked, kept]))
    list(first)

    sandbox.time.advance(seconds=5)
    sandbox.emulator.archive_contact(linked)
    sandbox.emulator.archive_contact(stranger)
    second = connector.pull(first.cursor, Known([linked, kept]))
    deleted = [r.id for r in second if r.deleted]
    assert deleted == [linked]

    # Reported once: the next check starts after it (and the engine forgets the id).
    sandbox.time.advance(seconds=5)
    third = connector.pull(second.cursor, Known([linked, kept]))
    assert [r.id for r in third if r.deleted] == []


def test_archived_before_the_first_sync_is_deleted_when_known(sandbox: Sandbox) -> None:
    linked = sandbox.contact(lastname="Linked")
    sandbox.emulator.archive_contact(linked)
    records = list(sandbox.connector().pull(None, Known([linked])))
    assert [(r.id, r.deleted) for r in records] == [(linked, True)]


def test_a_merge_relinks_and_is_never_a_deletion(sandbox: Sandbox) -> None:
    primary = sandbox.contact(lastname="Lovelace", email="ada@example.com")
    merged = sandbox.contact(firstname="Ada", lastname="Lovelace", email="ada@work.example")
    other = sandbox.contact(lastname="Other")
    known = Known([primary, merged, other])
    connector = sandbox.connector()
    first = connector.pull(None, known)
    list(first)

    sandbox.time.advance(seconds=5)
    assert sandbox.emulator.merge(primary, merged) == primary
    second = connector.pull(first.cursor, known)
    records = by_id(second)

    assert set(records) == {primary}  # other did not change: not read again
    assert records[primary].merged_ids == (merged,)
    assert not any(r.deleted for r in records.values())
    assert records[primary].fields["visitor_name"] == "Ada Lovelace"  # blanks filled
    # The merged-away id never shows as archived either, on the next pull.
    sandbox.time.advance(seconds=5)
    assert not any(r.deleted for r in connector.pull(second.cursor, known))


def test_merged_ids_name_known_ids_only(sandbox: Sandbox) -> None:
    primary = sandbox.contact(lastname="P")
    merged = sandbox.contact(lastname="M")
    sandbox.emulator.merge(primary, merged)
    records = list(sandbox.connector().pull(None, Known([primary])))
    assert [(r.id, r.merged_ids) for r in records] == [(primary, ())]


def test_a_full_read_confirms_known_contacts_that_vanished_for_good(sandbox: Sandbox) -> None:
    alive = sandbox.contact(lastname="Alive")
    primary = sandbox.contact(lastname="P")
    merged = sandbox.contact(lastname="M")
    sandbox.emulator.merge(primary, merged)
    purged = "987654"  # known, but HubSpot has no such contact, live or archived

    records = by_id(sandbox.connector().pull(None, Known([alive, primary, merged, purged])))

    assert records[purged].deleted
    assert not records[alive].deleted and records[primary].merged_ids == (merged,)
    assert merged not in records  # merged away: relinked through primary, not deleted


def test_an_invalid_contact_is_reported_not_skipped(sandbox: Sandbox) -> None:
    sandbox.emulator.store.props.pop("nexadesk_amount")  # the account renames the property
    bad = sandbox.contact(lastname="Bad", nexadesk_source="x")
    connector = sandbox.connector(fields={"expected_billing_amount": "nexadesk_source"})
    sandbox.emulator.update_contact(bad, nexadesk_source="a lot")
    records = list(connector.pull(None, Known()))
    assert [r.id for r in records] == [bad]
    assert "nexadesk_source" in (records[0].invalid or "")
