"""The NexaDesk connector against the NexaDesk emulator over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from known_ids import Known

from nexasync.config import NexaDeskConfig
from nexasync.connectors.base import CreateItem, Cursor, Pull, Record, UpdateItem
from nexasync.connectors.nexadesk import NexaDeskConnector, NexaDeskError
from nexasync.lead import Lead
from nexasync.sandbox._http import ServerThread
from nexasync.sandbox.nexadesk import NexaDeskEmulator

KEY = "nd_test_key_s3cr3t"


class StepClock:
    """Moves ``step`` forward at every reading: distinct, ordered timestamps."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 15, 10, 30, tzinfo=timezone.utc)
        self.step = timedelta(milliseconds=1)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += self.step
            return self.now


def run(
    connector: NexaDeskConnector, cursor: Cursor | None, known: Known
) -> tuple[list[Record], Pull]:
    pull = connector.pull(cursor, known)
    return list(pull), pull


def config(url: str, **kw: Any) -> NexaDeskConfig:
    options: dict[str, Any] = {"overlap_seconds": 0, "max_retries": 3, "timeout": 5.0}
    options.update(kw)
    return NexaDeskConfig(base_url=url, api_key=KEY, **options)


def latest(*batches: Iterable[Record]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for batch in batches:
        for record in batch:
            out[record.id] = record
    return out


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[NexaDeskEmulator, str]]:
    # One server for the module: starting and stopping one per test is the slow part.
    emulator = NexaDeskEmulator(KEY)
    with ServerThread(emulator) as server:
        yield emulator, server.url


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def emulator(served: tuple[NexaDeskEmulator, str], clock: StepClock) -> NexaDeskEmulator:
    emulator = served[0]
    emulator.reset()
    emulator.clock = clock
    emulator.rate_limit = None
    return emulator


@pytest.fixture
def url(served: tuple[NexaDeskEmulator, str], emulator: NexaDeskEmulator) -> str:
    return served[1]


@pytest.fixture
def connector(url: str) -> Iterator[NexaDeskConnector]:
    connector = NexaDeskConnector(config(url), backoff=0.01)
    yield connector
    connector.close()


# -- pulling ---------------------------------------------------------------------------
def test_first_pull_reads_every_lead_in_canonical_form(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    leads = emulator.seed(250)
    records, pull = run(connector, None, Known())
    assert sorted(r.id for r in records) == sorted(lead["id"] for lead in leads)
    assert dict(emulator.counts) == {"list": 3} and connector.stats["list"] == 3
    assert pull.complete and pull.cursor is not None
    assert pull.cursor["watermark"] == max(lead["updated_at"] for lead in leads)
    by_id = {r.id: r for r in records}
    for lead in leads:
        record = by_id[lead["id"]]
        assert record.version is not None and record.version.startswith(lead["updated_at"])
        assert record.fields["visitor_email"] == ((lead["visitor_email"] or "").lower() or None)
        assert record.fields["tags"] == tuple(sorted(lead["tags"]))
        assert record.fields["assigned_rep_id"] == lead["assigned_rep_id"]
    reps = {lead["assigned_rep_id"]: lead["rep_email"] for lead in leads if lead["assigned_rep_id"]}
    assert reps and connector.rep_emails == reps


def test_incremental_pull_reads_only_changes_and_an_idle_cycle_costs_one_request(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    leads = emulator.seed(250)
    records, first = run(connector, None, Known())
    known = Known.of(records)
    emulator.reset_counts()
    idle, second = run(connector, first.cursor, known)
    assert idle == [] and dict(emulator.counts) == {"list": 1}

    a, b = leads[3]["id"], leads[200]["id"]
    emulator.update_lead(a, pipeline_stage="lost")
    emulator.update_lead(b, visitor_phone="+1-555-0199")
    fresh = emulator.add_lead(visitor_name="Fresh Lead", visitor_email="Fresh@Example.com")
    emulator.reset_counts()
    changed, third = run(connector, second.cursor, known)
    assert {r.id for r in changed} == {a, b, fresh["id"]}
    assert latest(changed)[a].fields["pipeline_stage"] == "lost"
    assert latest(changed)[fresh["id"]].fields["visitor_email"] == "fresh@example.com"
    assert dict(emulator.counts) == {"list": 1}

    known.bases[fresh["id"]] = latest(changed)[fresh["id"]].fields
    emulator.reset_counts()
    again, _ = run(connector, third.cursor, known)
    assert again == [] and emulator.total == 1


def test_changes_within_the_watermark_millisecond_are_not_missed(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector, clock: StepClock
) -> None:
    ids = [lead["id"] for lead in emulator.seed(5)]
    records, first = run(connector, None, Known())
    known = Known.of(records)
    clock.step = timedelta(0)  # every change from now on lands on one millisecond
    emulator.update_lead(ids[0], visitor_phone="+1-555-0001")
    changed, second = run(connector, first.cursor, known)
    assert [r.id for r in changed] == [ids[0]]
    emulator.update_lead(ids[1], visitor_phone="+1-555-0002")
    emulator.update_lead(ids[0], visitor_phone="+1-555-0003")  # again, same millisecond
    changed, third = run(connector, second.cursor, known)
    phones = {r.id: r.fields["visitor_phone"] for r in changed}
    assert phones == {ids[1]: "+1-555-0002", ids[0]: "+1-555-0003"}
    assert run(connector, third.cursor, known)[0] == []


def test_overlap_window_rereads_late_commits(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector, url: str
) -> None:
    emulator.seed(20)
    records, first = run(connector, None, Known())
    assert first.cursor is not None
    mark = datetime.fromisoformat(first.cursor["watermark"].replace("Z", "+00:00"))
    late = emulator.add_lead(visitor_name="Late Commit", updated_at=mark - timedelta(seconds=30))
    assert run(connector, first.cursor, Known.of(records))[0] == []
    overlapping = NexaDeskConnector(config(url, overlap_seconds=60), backoff=0.01)
    changed, _ = run(overlapping, first.cursor, Known.of(records))
    assert late["id"] in {r.id for r in changed}


def test_unreadable_cursor_means_reading_everything_again(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    emulator.seed(12)
    records, pull = run(connector, {"watermark": "last tuesday"}, Known())
    assert len(records) == 12 and pull.complete and pull.cursor is not None


def test_first_pull_survives_deletes_and_updates_between_pages(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    emulator.seed(250)
    order = [lead["id"] for lead in sorted(emulator.leads(), key=lambda x: x["updated_at"])][::-1]
    fired: list[bool] = []

    def meanwhile(emu: NexaDeskEmulator, request: Any) -> None:
        if request.args.get("cursor") == "MTAw" and not fired:  # before page 2 of the scan
            fired.append(True)
            emu.delete_lead(order[10])  # already read: every later lead moves up one place
        if request.args.get("cursor") == "MjAw" and len(fired) == 1:  # before page 3
            fired.append(True)
            emu.update_lead(order[240], visitor_phone="+1-555-0240")  # moves to the front

    emulator.on_request = meanwhile
    records, first = run(connector, None, Known())
    emulator.on_request = None
    assert fired and first.complete
    after, _ = run(connector, first.cursor, Known.of(records))
    seen = latest(records, after)
    for lead in emulator.leads():
        assert seen[lead["id"]].version.startswith(lead["updated_at"])  # type: ignore[union-attr]
    # It was read before it went, so it is known: the next pull reports it, nothing else.
    assert [r.id for r in records + after if r.deleted] == [order[10]]


def test_incremental_pull_with_changes_while_paging_misses_no_update_and_finds_the_delete(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    leads = emulator.seed(300)
    records, first = run(connector, None, Known())
    known = Known.of(records)
    touched = [lead["id"] for lead in leads[:150]]
    for lead_id in touched:  # two pages of changes
        emulator.update_lead(lead_id, tags=["touched"])
    victim, bystander = touched[-5], leads[200]["id"]  # victim: on the first page
    fired: list[bool] = []

    def meanwhile(emu: NexaDeskEmulator, request: Any) -> None:
        paging = request.args.get("sort") == "updated_at:desc" and request.args.get("cursor")
        if paging and not fired:
            fired.append(True)
            emu.delete_lead(victim)
            emu.update_lead(bystander, visitor_phone="+1-555-4242")

    emulator.on_request = meanwhile
    changed, second = run(connector, first.cursor, known)
    emulator.on_request = None
    assert fired and second.complete
    assert [r.id for r in changed if r.deleted] == [victim]
    for record in changed:
        if record.deleted:
            known.bases.pop(record.id)
    later, _ = run(connector, second.cursor, known)
    seen = latest(changed, later)
    for lead_id in touched:
        if lead_id != victim:
            assert seen[lead_id].fields["tags"] == ("touched",)
    assert seen[bystander].fields["visitor_phone"] == "+1-555-4242"
    assert not any(r.deleted for r in later)


def test_scan_that_keeps_changing_is_incomplete_and_keeps_the_cursor(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    leads = emulator.seed(300)
    records, first = run(connector, None, Known())
    known = Known.of(records)
    touched = [lead["id"] for lead in leads[:150]]
    for lead_id in touched:
        emulator.update_lead(lead_id, tags=["touched"])
    victims = iter(touched[-3:][::-1])
    deleted: list[str] = []

    def meanwhile(emu: NexaDeskEmulator, request: Any) -> None:
        if request.args.get("sort") == "updated_at:desc" and request.args.get("cursor"):
            deleted.append(next(victims))
            emu.delete_lead(deleted[-1])

    emulator.on_request = meanwhile
    changed, second = run(connector, first.cursor, known)
    emulator.on_request = None
    assert len(deleted) == 3
    assert not second.complete and second.cursor == first.cursor
    assert not any(r.deleted for r in changed)
    again, third = run(connector, second.cursor, known)
    assert third.complete
    assert sorted(r.id for r in again if r.deleted) == sorted(deleted)
    seen = latest(changed, again)
    assert all(seen[i].fields["tags"] == ("touched",) for i in touched if i not in deleted)


# -- deletion detection ------------------------------------------------------------------
def test_only_known_deletions_are_reported_after_a_confirming_search(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    emulator.seed(120)
    records, first = run(connector, None, Known())
    known = Known.of(records)
    gone_known, gone_unknown = records[7].id, records[8].id
    known.bases.pop(gone_unknown)  # e.g. a lead never linked
    emulator.delete_lead(gone_known)
    emulator.delete_lead(gone_unknown)
    emulator.reset_counts()
    changed, second = run(connector, first.cursor, known)
    assert changed == [Record(gone_known, deleted=True)]
    assert emulator.counts["search"] >= 1
    known.bases.pop(gone_known)
    emulator.reset_counts()
    assert run(connector, second.cursor, known)[0] == [] and emulator.total == 1


def test_a_missing_lead_that_cannot_be_confirmed_is_not_reported_nor_rescanned(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    emulator.seed(30)
    records, first = run(connector, None, Known())
    known = Known.of(records)
    known.bases[records[0].id] = None  # nothing to search it by
    emulator.delete_lead(records[0].id)
    changed, second = run(connector, first.cursor, known)
    assert changed == []
    emulator.reset_counts()
    assert run(connector, second.cursor, known)[0] == [] and emulator.total == 1


def test_invalid_lead_is_reported_and_neither_blocks_nor_hides_anything(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    emulator.seed(10)
    # Old enough not to be re-read by incremental pulls: only the cursor remembers it.
    bad = emulator.add_lead(
        visitor_name="Odd Stage", pipeline_stage="archived", updated_at="2025-01-01T00:00:00.000Z"
    )
    records, first = run(connector, None, Known())
    invalid = [r for r in records if r.invalid]
    assert [r.id for r in invalid] == [bad["id"]] and "archived" in (invalid[0].invalid or "")
    assert len([r for r in records if r.invalid is None]) == 10
    known = Known.of(records)
    victim = next(iter(known))
    emulator.delete_lead(victim)
    changed, _ = run(connector, first.cursor, known)
    assert [r.id for r in changed if r.deleted] == [victim]


# -- writing -----------------------------------------------------------------------------
def test_create_truncates_where_allowed_and_fails_only_the_bad_records(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    long_name = "Maria " + "Fernández " * 30
    items = [
        CreateItem("crm-1", {"visitor_name": long_name, "visitor_email": "maria@example.com"}),
        CreateItem("crm-2", {"visitor_name": "Phone Too Long", "visitor_phone": "5" * 60}),
        CreateItem("crm-3", {"visitor_email": "noname@example.com"}),
        CreateItem("crm-4", {"visitor_name": "Fine Person", "tags": ("a", "b"), "source": None}),
    ]
    results = connector.create(items)
    assert [r.ok for r in results] == [True, False, False, True]
    assert "crm-2" in (results[1].error or "") and "visitor_phone" in (results[1].error or "")
    assert "50" in (results[1].error or "") and not results[1].retryable
    assert "crm-3" in (results[2].error or "") and "visitor_name" in (results[2].error or "")
    assert len(emulator.leads()) == 2
    for item, result in zip([items[0], items[3]], [results[0], results[3]]):
        assert result.record is not None and result.id == result.record.id
        projected = connector.project(item.fields)
        assert {k: result.record.fields[k] for k in projected} == projected
    assert len(results[0].record.fields["visitor_name"]) <= 200  # type: ignore[union-attr]


def test_create_without_truncation_reports_the_limit(emulator: NexaDeskEmulator, url: str) -> None:
    connector = NexaDeskConnector(config(url, truncate=[]), backoff=0.01)
    [result] = connector.create([CreateItem("crm-9", {"visitor_name": "x" * 201})])
    assert (
        not result.ok and "visitor_name" in (result.error or "") and "200" in (result.error or "")
    )
    assert emulator.leads() == [] and emulator.total == 0


def test_create_with_a_rep_posts_then_patches(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    rep = emulator.add_rep("Sam", "Chen", "sam.chen@nexadesk.example")
    [result] = connector.create(
        [CreateItem("crm-1", {"visitor_name": "Jo", "assigned_rep_id": rep})]
    )
    assert result.ok and result.record is not None
    assert result.record.fields["assigned_rep_id"] == rep
    assert dict(emulator.counts) == {"create": 1, "update": 1}
    assert emulator.get(result.id or "")["rep_email"] == "sam.chen@nexadesk.example"  # type: ignore[index]
    assert connector.rep_emails[rep] == "sam.chen@nexadesk.example"


def test_update_sends_only_given_fields_unassigns_with_null_and_keeps_source(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    rep = emulator.add_rep("Sam", "Chen", "sam@nexadesk.example")
    lead = emulator.add_lead(
        visitor_name="Jane", visitor_phone="+1-555-0100", source="widget", assigned_rep_id=rep
    )
    item = UpdateItem(
        lead["id"], {"assigned_rep_id": None, "source": "web", "need_summary": "Demo"}
    )
    [result] = connector.update([item])
    assert result.ok and result.record is not None
    stored = emulator.get(lead["id"])
    assert stored is not None and stored["assigned_rep_id"] is None and stored["rep_email"] is None
    assert stored["source"] == "widget" and result.record.fields["source"] == "widget"
    assert stored["visitor_phone"] == "+1-555-0100" and stored["need_summary"] == "Demo"


def test_update_with_an_unknown_rep_is_a_record_error(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    lead = emulator.add_lead(visitor_name="Jane")
    ok_lead = emulator.add_lead(visitor_name="John")
    results = connector.update(
        [
            UpdateItem(lead["id"], {"assigned_rep_id": "no-such-rep"}),
            UpdateItem(ok_lead["id"], {"visitor_phone": "+1-555-0101"}),
        ]
    )
    assert not results[0].ok and not results[0].retryable and lead["id"] in (results[0].error or "")
    assert results[1].ok


def test_update_and_delete_of_missing_leads_are_gone_not_errors(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    lead = emulator.add_lead(visitor_name="Jane")
    [updated] = connector.update([UpdateItem("missing-id", {"visitor_phone": "1"})])
    assert not updated.ok and updated.gone
    results = connector.delete([lead["id"], "missing-id"])
    assert results[0].ok and not results[0].gone
    assert results[1].ok and results[1].gone
    assert emulator.get(lead["id"]) is None


def test_writes_run_concurrently_and_answer_in_order(emulator: NexaDeskEmulator, url: str) -> None:
    connector = NexaDeskConnector(config(url, concurrency=4), backoff=0.01)
    emulator.faults.latency = 0.02
    items = [CreateItem(f"crm-{i}", {"visitor_name": f"Person Number{i}"}) for i in range(12)]
    results = connector.create(items)
    assert [r.record.fields["visitor_name"] for r in results] == [  # type: ignore[union-attr]
        f"Person Number{i}" for i in range(12)
    ]
    assert len(emulator.leads()) == 12


def test_match_by_email_else_by_name(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    bob = emulator.add_lead(visitor_name="Bob Stone", visitor_email="Bob@Example.com")
    emulator.add_lead(visitor_name="Other Bob", visitor_email="xbob@example.com")
    ann = emulator.add_lead(visitor_name="Ann Lee")
    emulator.add_lead(visitor_name="Ann Leeward")
    found = connector.match(
        [
            {"visitor_email": "bob@example.COM", "visitor_name": "Robert"},
            {"visitor_name": "ann lee"},
            {"visitor_email": "nobody@example.com"},
        ]
    )
    assert [[r.id for r in group] for group in found] == [[bob["id"]], [ann["id"]], []]


# -- failures and retries ----------------------------------------------------------------
def test_retry_after_of_a_429_is_honoured(emulator: NexaDeskEmulator, url: str) -> None:
    # One request per second allowed, one retry, almost no backoff: only waiting for
    # Retry-After lets the second request through.
    emulator.rate_limit, emulator.rate_window = 1, 1.0
    connector = NexaDeskConnector(config(url, max_retries=1), backoff=0.01)
    assert run(connector, None, Known())[1].complete
    [result] = connector.create([CreateItem("crm-1", {"visitor_name": "Patient Person"})])
    assert result.ok
    assert emulator.counts["create"] == 2 and len(emulator.leads()) == 1


def test_a_429_asking_for_too_long_fails_fast_as_retryable(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    lead = emulator.add_lead(visitor_name="Jane")
    emulator.faults.add("429", match="update", retry_after=3600)
    [result] = connector.update([UpdateItem(lead["id"], {"visitor_phone": "1"})])
    assert not result.ok and result.retryable and emulator.counts["update"] == 1


def test_server_errors_on_reads_are_retried(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    emulator.seed(5)
    emulator.faults.add("503", times=2, match="list")
    records, pull = run(connector, None, Known())
    assert len(records) == 5 and pull.complete and emulator.counts["list"] == 3


def test_outage_beyond_the_retries_raises_without_secrets(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.faults.add("500", times=10, match="list")
    with pytest.raises(NexaDeskError) as info:
        run(connector, None, Known())
    assert info.value.retryable and emulator.counts["list"] == 4
    captured = capsys.readouterr()
    assert KEY not in str(info.value) and KEY not in captured.out + captured.err


@pytest.mark.parametrize("email", ["amb@example.com", None])
def test_ambiguous_create_is_found_not_sent_twice(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector, email: str | None
) -> None:
    emulator.add_lead(visitor_name="Amb Iguous", visitor_company="Someone Else Inc")
    emulator.faults.add("ambiguous", match="create")
    fields = {"visitor_name": "Amb Iguous", "visitor_email": email, "visitor_company": "Acme"}
    [result] = connector.create([CreateItem("crm-1", fields)])
    assert result.ok
    mine = [lead for lead in emulator.leads() if lead["visitor_company"] == "Acme"]
    assert [lead["id"] for lead in mine] == [result.id]
    assert emulator.counts["create"] == 1 and emulator.counts["search"] >= 1


def test_create_refused_with_503_is_sent_again_after_looking(
    emulator: NexaDeskEmulator, connector: NexaDeskConnector
) -> None:
    emulator.faults.add("503", match="create")
    [result] = connector.create([CreateItem("crm-1", {"visitor_name": "Retry Me"})])
    assert result.ok and len(emulator.leads()) == 1
    assert emulator.counts["create"] == 2 and emulator.counts["search"] == 1


def test_wrong_key_fails_without_leaking_it(
    emulator: NexaDeskEmulator, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "nd_live_WRONG_9f8e7d"
    connector = NexaDeskConnector(
        NexaDeskConfig(base_url=url, api_key=secret, max_retries=0), backoff=0.01
    )
    with pytest.raises(NexaDeskError) as info:
        run(connector, None, Known())
    assert info.value.status == 401
    [result] = connector.create([CreateItem("crm-1", {"visitor_name": "Jane"})])
    assert not result.ok
    captured = capsys.readouterr()
    texts = [str(info.value), repr(info.value), result.error or "", captured.out, captured.err]
    assert all(secret not in text for text in texts)
    assert secret not in repr(connector.config)


# -- timeouts (own server: a hung request must not wake up inside another test) ------------
@pytest.fixture
def slow() -> Iterator[tuple[NexaDeskEmulator, NexaDeskConnector]]:
    emulator = NexaDeskEmulator(KEY)
    with ServerThread(emulator) as server:
        connector = NexaDeskConnector(config(server.url, timeout=0.2), backoff=0.01)
        yield emulator, connector
        connector.close()


def test_read_timeouts_are_retried(slow: tuple[NexaDeskEmulator, NexaDeskConnector]) -> None:
    emulator, connector = slow
    emulator.seed(3)
    emulator.faults.add("hang", match="list", seconds=0.6)
    records, pull = run(connector, None, Known())
    assert len(records) == 3 and pull.complete and emulator.counts["list"] == 2


def test_timed_out_create_is_not_sent_again_while_it_may_be_running(
    slow: tuple[NexaDeskEmulator, NexaDeskConnector],
) -> None:
    emulator, connector = slow
    emulator.faults.add("hang", match="create", seconds=0.6)
    fields: Lead = {"visitor_name": "Slow Create", "visitor_email": "slow@example.com"}
    [result] = connector.create([CreateItem("crm-1", fields)])
    assert not result.ok and result.retryable
    assert emulator.counts["create"] == 1
    deadline = time.monotonic() + 5
    while not emulator.leads() and time.monotonic() < deadline:
        time.sleep(0.02)
    # The next cycle matches before creating, and finds the one lead the server made.
    [[found]] = connector.match([fields])
    assert [lead["id"] for lead in emulator.leads()] == [found.id]
