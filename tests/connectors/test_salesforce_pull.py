"""Reading Leads: first and incremental pulls, paging, the cost of an idle cycle, and
soft deletes, purges and the fallback when getDeleted cannot cover the gap."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from _salesforce_env import Sandbox, by_id
from known_ids import Known

from nexasync.connectors.base import Record
from nexasync.connectors.salesforce import SalesforceApiError


def test_first_pull_reads_every_lead_in_canonical_form(sandbox: Sandbox) -> None:
    plain = sandbox.lead(FirstName="Ada", LastName="Lovelace", Email="Ada@Example.com",
                         Company="[not provided]", Status="Working - Contacted",
                         NexaDesk_Tags__c="vip;b2b", Expected_Amount__c=1200.0)
    odd = sandbox.lead(LastName="Odd", LeadSource="Web")
    sandbox.emulator.update_lead(odd, Status="Closed - Not Converted")
    converted = sandbox.lead(LastName="Conv", Status="Open - Not Contacted")
    sandbox.emulator.convert_lead(converted)
    gone = sandbox.lead(LastName="Gone")
    sandbox.emulator.delete_lead(gone)

    pull = sandbox.connector().pull(None, Known())
    records = by_id(pull)

    assert set(records) == {plain, odd, converted}  # an unknown deleted lead is skipped
    ada = records[plain]
    assert ada.fields == {
        "visitor_name": "Ada Lovelace", "visitor_email": "ada@example.com",
        "visitor_phone": None, "visitor_company": None, "need_summary": None, "source": None,
        "pipeline_stage": "contacted", "expected_billing_amount": 1200, "tags": ("b2b", "vip"),
    }  # the API user owns it and maps to no rep: the owner is unknown, not blank
    assert ada.version == sandbox.emulator.get(plain)["SystemModstamp"]
    assert ada.modified_at is not None and ada.modified_at.tzinfo is not None
    assert records[odd].fields["pipeline_stage"] == "lost"
    assert records[converted].read_only == "converted"
    assert records[converted].fields["pipeline_stage"] == "converted"
    assert pull.cursor is not None and pull.cursor["watermark"]


def test_incremental_pull_reads_only_changes_and_an_idle_one_costs_one_request(
    sandbox: Sandbox,
) -> None:
    old, changed = sandbox.lead(LastName="Old"), sandbox.lead(LastName="Changed")
    connector = sandbox.connector()
    first = connector.pull(None, Known([old, changed]))
    list(first)
    sandbox.clock.advance(seconds=5)
    sandbox.emulator.update_lead(changed, Phone="+1 555")
    new = sandbox.lead(LastName="New")

    second = connector.pull(first.cursor, Known([old, changed]))
    records = by_id(second)

    assert set(records) == {changed, new}
    assert records[changed].fields["visitor_phone"] == "+1 555"
    assert second.cursor and second.cursor["watermark"] > first.cursor["watermark"]

    sandbox.emulator.reset_counts()
    before = Counter(connector.stats)
    third = connector.pull(second.cursor, Known([old, changed, new]))
    list(third)
    assert sandbox.emulator.counts == Counter({"queryAll": 1})
    assert connector.stats - before == Counter({"queryAll": 1})
    assert third.cursor == second.cursor


def test_overlap_re_reads_recent_changes(sandbox: Sandbox) -> None:
    a = sandbox.lead(LastName="A")
    connector = sandbox.connector(overlap_seconds=300)
    first = connector.pull(None, Known())
    list(first)
    sandbox.clock.advance(seconds=60)
    b = sandbox.lead(LastName="B")
    assert set(by_id(connector.pull(first.cursor, Known([a])))) == {a, b}


def test_pages_are_streamed_over_next_records_url(sandbox: Sandbox) -> None:
    ids = sandbox.emulator.seed(450)
    connector = sandbox.connector(query_batch_size=200)
    pull = connector.pull(None, Known())
    records = iter(pull)
    next(records)
    assert sandbox.emulator.counts["query_more"] == 0  # one page at a time
    seen = [next(records).id for _ in range(199)]
    assert sandbox.emulator.counts["query_more"] == 0
    seen += [r.id for r in records]

    assert len(seen) + 1 == 450 and set(seen) < set(ids)
    assert sandbox.emulator.counts["query_more"] == 2
    assert pull.cursor is not None


def test_default_pages_of_two_thousand(sandbox: Sandbox) -> None:
    sandbox.emulator.seed(2100)
    pull = sandbox.connector().pull(None, Known())
    assert sum(1 for _ in pull) == 2100
    assert sandbox.emulator.counts["query_more"] == 1


def test_soft_delete_is_seen_by_query_all_for_known_ids_only(sandbox: Sandbox) -> None:
    known, unknown = sandbox.lead(LastName="K"), sandbox.lead(LastName="U")
    connector = sandbox.connector()
    first = connector.pull(None, Known([known]))
    list(first)
    sandbox.emulator.delete_lead(known)
    sandbox.emulator.delete_lead(unknown)

    records = list(connector.pull(first.cursor, Known([known])))

    assert records == [Record(known, deleted=True)]


def test_a_purge_is_found_by_get_deleted_once_the_check_is_due(sandbox: Sandbox) -> None:
    keep, purged = sandbox.lead(LastName="Keep"), sandbox.lead(LastName="Purged")
    known = Known([keep, purged])
    connector = sandbox.connector(deleted_check_seconds=600)
    first = connector.pull(None, known)
    list(first)
    sandbox.clock.advance(minutes=2)
    sandbox.emulator.purge(purged)

    early = connector.pull(first.cursor, known)
    assert list(early) == []  # not due yet: the purge is invisible to the query
    assert sandbox.emulator.counts["getDeleted"] == 0

    sandbox.clock.advance(minutes=9)
    late = connector.pull(early.cursor, known)
    assert list(late) == [Record(purged, deleted=True)]
    assert sandbox.emulator.counts["getDeleted"] == 1
    assert late.cursor and late.cursor["deleted_checked"] > first.cursor["deleted_checked"]

    # The next check starts where this one ended: the purge is not reported twice.
    sandbox.clock.advance(minutes=11)
    assert list(connector.pull(late.cursor, known)) == []


@pytest.mark.parametrize("gap", ["log_purged", "over_30_days"])
def test_when_get_deleted_cannot_cover_the_gap_ids_are_compared(
    sandbox: Sandbox, gap: str
) -> None:
    keep, purged = sandbox.lead(LastName="Keep"), sandbox.lead(LastName="Purged")
    converted = sandbox.lead(LastName="Conv")
    sandbox.emulator.convert_lead(converted)
    known = Known([keep, purged, converted])
    connector = sandbox.connector(deleted_check_seconds=600)
    first = connector.pull(None, known)
    list(first)
    sandbox.emulator.purge(purged)
    if gap == "log_purged":
        sandbox.clock.advance(hours=2)
        sandbox.emulator.earliest_deleted_available = sandbox.clock() - timedelta(minutes=30)
    else:
        sandbox.clock.advance(days=31)

    records = list(connector.pull(first.cursor, known))

    # The converted lead comes too: its stamp is the watermark, re-read at the boundary.
    assert [r for r in records if r.deleted] == [Record(purged, deleted=True)]
    assert sandbox.emulator.counts["query"] == 1  # SELECT Id FROM Lead
    assert sandbox.emulator.counts["getDeleted"] == (1 if gap == "log_purged" else 0)


def test_first_pull_with_known_ids_reports_the_ones_purged_meanwhile(sandbox: Sandbox) -> None:
    keep = sandbox.lead(LastName="Keep")
    records = list(sandbox.connector().pull(None, Known([keep, "00QDn0000000000AAA"])))
    assert Record("00QDn0000000000AAA", deleted=True) in records
    assert {r.id for r in records if not r.deleted} == {keep}


def test_a_row_that_cannot_be_read_is_reported_and_the_rest_go_on(sandbox: Sandbox) -> None:
    good = sandbox.lead(LastName="Good", Description="12.50")
    bad = sandbox.lead(LastName="Bad", Description="a lot")
    # A text field mapped onto the amount: a row whose text is not a number is invalid.
    connector = sandbox.connector(fields={"need_summary": None,
                                          "expected_billing_amount": "Description"})
    records = by_id(connector.pull(None, Known()))
    assert records[good].fields["expected_billing_amount"] == 12.5
    assert records[bad].invalid is not None and "Description" in records[bad].invalid
    assert records[bad].fields == {}


def test_transient_errors_are_retried_and_limits_are_not(sandbox: Sandbox) -> None:
    lead = sandbox.lead(LastName="X")
    connector = sandbox.connector()
    sandbox.emulator.faults.add("503", times=2, match="queryAll")
    assert [r.id for r in connector.pull(None, Known())] == [lead]
    assert sandbox.emulator.counts["queryAll"] == 3

    sandbox.emulator.daily_api_limit = sandbox.emulator.api_requests_used
    sandbox.emulator.reset_counts()
    with pytest.raises(SalesforceApiError, match="REQUEST_LIMIT_EXCEEDED") as info:
        list(connector.pull(None, Known()))
    assert info.value.retryable
    assert sandbox.emulator.counts["queryAll"] == 1
