"""The connector's pure helpers: SOQL literals, request kinds, answers, timestamps."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from nexasync.connectors._sf_api import classify, error_detail, soql_quote
from nexasync.connectors._sf_pull import parse_sf_datetime
from nexasync.connectors._sf_writes import CONVERTED, entry_result, match_key
from nexasync.connectors.salesforce import MAX_WHERE_CHARS, SalesforceConnector


@pytest.mark.parametrize(("raw", "literal"), [
    ("plain", "'plain'"),
    ("O'Brien", r"'O\'Brien'"),
    ("back\\slash", r"'back\\slash'"),
    ("line\nbreak\ttab", r"'line\nbreak\ttab'"),
    ('say "hi"', r"'say \"hi\"'"),
    ("x' OR Name != '", r"'x\' OR Name != \''"),
])
def test_soql_quote(raw: str, literal: str) -> None:
    assert soql_quote(raw) == literal


@pytest.mark.parametrize(("method", "url", "kind"), [
    ("POST", "https://h/services/Soap/u/59.0", "login"),
    ("POST", "https://h/services/oauth2/token", "token"),
    ("GET", "https://h/services/data/v59.0/query/?q=SELECT", "query"),
    ("GET", "https://h/services/data/v59.0/queryAll/?q=SELECT", "queryAll"),
    ("GET", "https://h/services/data/v59.0/query/01gxx-2000", "query_more"),
    ("GET", "https://h/services/data/v59.0/queryAll/01gxx-2000", "query_more"),
    ("POST", "https://h/services/data/v59.0/composite/sobjects", "collections_create"),
    ("PATCH", "https://h/services/data/v59.0/composite/sobjects", "collections_update"),
    ("DELETE", "https://h/services/data/v59.0/composite/sobjects?ids=a", "collections_delete"),
    ("PATCH", "https://h/services/data/v59.0/composite/sobjects/Lead/Ext__c",
     "collections_upsert"),
    ("GET", "https://h/services/data/v59.0/sobjects/Lead/deleted/?start=a&end=b", "getDeleted"),
    ("GET", "https://h/services/data/v59.0/limits/", "limits"),
    ("GET", "https://h/services/data/v59.0/sobjects/Lead/00Q1", "sobject"),
])
def test_classify_names_kinds_like_the_emulator(method: str, url: str, kind: str) -> None:
    assert classify(method, url) == kind


def test_error_detail_reads_rest_and_oauth_bodies() -> None:
    assert error_detail([{"message": "Session expired", "errorCode": "INVALID_SESSION_ID"}]) == (
        "INVALID_SESSION_ID", "Session expired")
    assert error_detail({"error": "invalid_grant", "error_description": "bad"}) == (
        "invalid_grant", "bad")
    assert error_detail("<html>oops</html>") == (None, "<html>oops</html>")


def test_parse_sf_datetime_forms() -> None:
    want = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)
    assert parse_sf_datetime("2024-05-01T10:00:00.123+0000") == want
    assert parse_sf_datetime("2024-05-01T10:00:00.123Z") == want
    assert parse_sf_datetime("2024-05-01T12:00:00.123+02:00") == want
    assert parse_sf_datetime(None) is None


def test_entry_results() -> None:
    assert entry_result({"id": "00Q1", "success": True, "errors": []}, None).ok
    gone = entry_result({"success": False, "errors": [
        {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}, "00Q1")
    assert (gone.ok, gone.gone, gone.id) == (False, True, "00Q1")
    deleted = entry_result({"success": False, "errors": [
        {"statusCode": "ENTITY_IS_DELETED", "message": "x", "fields": []}]}, "00Q1", delete=True)
    assert (deleted.ok, deleted.gone) == (True, True)
    # A bad owner is an error about the record's field, not a missing target.
    owner = entry_result({"success": False, "errors": [{
        "statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid owner",
        "fields": ["OwnerId"]}]}, "00Q1")
    assert (owner.ok, owner.gone, owner.retryable) == (False, False, False)
    assert "OwnerId" in (owner.error or "")
    converted = entry_result({"success": False, "errors": [{
        "statusCode": "CANNOT_UPDATE_CONVERTED_LEAD", "message": "x", "fields": []}]}, "00Q1")
    assert (converted.ok, converted.skipped, converted.error) == (False, CONVERTED, None)
    locked = entry_result({"success": False, "errors": [{
        "statusCode": "UNABLE_TO_LOCK_ROW", "message": "x", "fields": []}]}, "00Q1")
    assert locked.retryable


def test_match_keys_and_query_chunks_stay_short() -> None:
    assert match_key({"Email": "A@X.io", "LastName": "Z"}, "Email") == ("email", ("a@x.io",))
    assert match_key({"Email": None, "FirstName": "Ada", "LastName": "L"}, "Email") == (
        "name", ("ada", "l"))
    keys = [("email", (f"person{i}@example.com",)) for i in range(500)]
    keys += [("name", (None, f"o'name{i}")) for i in range(100)]
    wheres = SalesforceConnector._where_chunks(keys, "Email")
    assert len(wheres) > 2
    assert all(len(w) <= MAX_WHERE_CHARS + 20 for w in wheres)
    joined = " ".join(wheres)
    assert all(f"'person{i}@example.com'" in joined for i in range(500))
    assert r"LastName = 'o\'name99'" in joined
