"""Owners by email without a User query per process: the active users read ride in the
lead cursor, trusted for as long as one long-running process trusts them."""

from __future__ import annotations

from _salesforce_env import Sandbox, by_id
from known_ids import Known

from nexasync.connectors._owners import USERS_TTL_SECONDS
from nexasync.connectors.base import CreateItem
from nexasync.connectors.salesforce import SalesforceConnector

REPS = {"rep-1": "rita@example.com", "rep-2": "sam@example.com"}



def _process(sandbox: Sandbox) -> SalesforceConnector:
    """A connector as a fresh ``sync --once`` process builds it."""
    connector = sandbox.connector()
    connector.set_rep_directory(REPS)
    return connector


def test_users_read_once_serve_the_next_processes_until_their_ttl(sandbox: Sandbox) -> None:
    rita = sandbox.emulator.add_user("Rita@Example.com", "Rita Rep")
    lead = sandbox.lead(LastName="Owned", OwnerId=rita)

    first = _process(sandbox)
    pull = first.pull(None, Known())
    assert by_id(pull)[lead].fields["assigned_rep_id"] == "rep-1"
    assert first.stats["query"] == 1  # SELECT Id, Email FROM User
    assert pull.cursor is not None and pull.cursor["users"]["users"][rita] == "rita@example.com"

    sandbox.clock.advance(seconds=USERS_TTL_SECONDS - 60)
    sandbox.emulator.update_lead(lead, Phone="+1 555 0100")
    second = _process(sandbox)
    later = second.pull(pull.cursor, Known([lead]))
    assert by_id(later)[lead].fields["assigned_rep_id"] == "rep-1"
    assert second.stats["query"] == 0
    # Kept with the time it was read: it does not grow younger by being carried along.
    assert later.cursor is not None and later.cursor["users"] == pull.cursor["users"]

    sandbox.clock.advance(seconds=120)  # past the TTL: read again
    sam = sandbox.emulator.add_user("sam@example.com", "Sam Rep")
    sandbox.emulator.update_lead(lead, OwnerId=sam)
    third = _process(sandbox)
    assert by_id(third.pull(later.cursor, Known([lead])))[lead].fields["assigned_rep_id"] == (
        "rep-2")
    assert third.stats["query"] == 1


def test_an_owner_that_maps_to_no_rep_needs_no_new_read_either(sandbox: Sandbox) -> None:
    lead = sandbox.lead(LastName="Plain")
    connector = _process(sandbox)
    pull = connector.pull(None, Known())
    # The API user owns it: that it is no rep's user takes the users list to know.
    assert "assigned_rep_id" not in by_id(pull)[lead].fields
    assert connector.stats["query"] == 1
    idle = _process(sandbox)
    again = idle.pull(pull.cursor, Known([lead]))
    assert [r.id for r in again] == [lead]  # the row at the watermark, read again
    assert idle.stats["query"] == 0
    assert again.cursor is not None and again.cursor["users"] == pull.cursor["users"]  # type: ignore[index]


def test_users_read_to_write_owners_are_kept_by_the_cycle_cursor(sandbox: Sandbox) -> None:
    rita = sandbox.emulator.add_user("rita@example.com", "Rita Rep")
    connector = _process(sandbox)
    pull = connector.pull(None, Known())
    assert list(pull) == []
    assert pull.cursor is not None and "users" not in pull.cursor

    [result] = connector.create([CreateItem("nd-1", {
        "visitor_name": "New Lead", "visitor_company": "Acme", "assigned_rep_id": "rep-1"})])
    assert result.ok and sandbox.emulator.get(result.id or "")["OwnerId"] == rita  # type: ignore[index]
    # The engine stores the cursor after the writes: the users read for them are in it.
    assert pull.cursor["users"]["users"] == {  # type: ignore[index]
        rita: "rita@example.com", sandbox.emulator.store.api_user_id: "sandbox@example.com"}


def test_a_saved_list_from_the_future_or_unreadable_is_not_trusted(sandbox: Sandbox) -> None:
    rita = sandbox.emulator.add_user("rita@example.com", "Rita Rep")
    lead = sandbox.lead(LastName="Owned", OwnerId=rita)
    for saved in ({"read_at": "2999-01-01T00:00:00+00:00", "users": {}},
                  {"read_at": "not a time", "users": {}}, "garbage"):
        connector = _process(sandbox)
        cursor = {"watermark": None, "users": saved}
        assert by_id(connector.pull(cursor, Known()))[lead].fields["assigned_rep_id"] == "rep-1"
        assert connector.stats["query"] == 1
