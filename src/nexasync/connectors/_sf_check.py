"""``nexasync check`` for Salesforce: login, the Lead object's permissions, every
mapped field, the deleted-records feed and the users reps map to, changing nothing.

Everything comes from the Lead describe as this user sees it: Salesforce leaves out
the fields field-level security hides, and reports a field the user may not edit as
not createable/updateable, so one describe tells "missing" and "read-only" for the
user the sync runs as. One queryAll over the mapped fields, one getDeleted window and
one User query confirm the calls the sync makes are accepted. No call is retried: a
check reports at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from nexasync.config import SalesforceConfig
from nexasync.connectors._checks import Findings, key_hint, listed, root_cause
from nexasync.connectors._sf_api import SalesforceApi, SalesforceApiError
from nexasync.connectors._sf_auth import SalesforceAuthError
from nexasync.connectors._sf_mapping import LeadMapping
from nexasync.connectors._sf_pull import SYSTEM_FIELDS
from nexasync.connectors.base import Check

CREDENTIAL_KEYS: dict[str | None, tuple[str, ...]] = {
    "password": ("auth.username", "auth.password", "auth.security_token"),
    "client_credentials": ("auth.consumer_key", "auth.consumer_secret", "domain"),
    "jwt": ("auth.username", "auth.consumer_key", "auth.private_key_file"),
    "session": ("auth.session_id", "instance_url"),
}
#: Object permissions the sync uses: pull, create, update, delete.
OBJECT_FLAGS = {"queryable": "query", "createable": "create", "updateable": "edit",
                "deletable": "delete"}
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist",
                        "multipicklist", "combobox", "encryptedstring"})
NUMBER_TYPES = frozenset({"currency", "double", "int", "percent", "long"})
#: The field types each canonical field may be written to (default: text).
FIELD_TYPES: dict[str, frozenset[str]] = {
    "expected_billing_amount": NUMBER_TYPES | TEXT_TYPES - {"picklist", "multipicklist"},
    "assigned_rep_id": frozenset({"reference"}),
    "pipeline_stage": frozenset({"picklist", "string", "combobox"}),
}


def run_checks(api: SalesforceApi, config: SalesforceConfig, mapping: LeadMapping,
               clock: Callable[[], datetime]) -> list[Check]:
    out = Findings("salesforce")
    describe = _login(api, config, out)
    if describe is None:
        return out.items
    _object_access(describe, out)
    fields = {str(f["name"]).casefold(): f for f in describe.get("fields") or []}
    present = _fields(fields, mapping, out)
    _external_id(fields, config, out)
    if present:  # else the query fails on the missing field, already reported
        _query(api, mapping, out)
    if config.deleted_check_seconds:
        _deleted_feed(api, describe, clock, out)
    if "assigned_rep_id" in mapping.fields and (config.rep_by_email or config.rep_map):
        _users(api, config, out)
    return out.items


def _login(api: SalesforceApi, config: SalesforceConfig,
           out: Findings) -> Mapping[str, Any] | None:
    where = config.instance_url if config.auth.method == "session" else (
        config.login_url or f"https://{config.domain}.salesforce.com")
    keys = key_hint("crm", *CREDENTIAL_KEYS[config.auth.method])
    try:
        describe = api.call(lambda sf: sf.Lead.describe(), retry=False)
    except SalesforceAuthError as exc:
        if exc.transient:
            out.fail("reachable", f"the login service failed: {exc}")
        else:
            out.ok("reachable", str(where))
            out.fail("credentials", f"{str(exc).rstrip('.')}; check {keys}")
        return None
    except SalesforceApiError as exc:
        if exc.status is None:
            hint = "crm.login_url, crm.domain, crm.ca_bundle"
            out.fail("reachable", f"cannot reach {where}: {root_cause(exc)} (check {hint})")
        elif exc.status == 401:
            out.ok("reachable", str(where))
            out.fail("credentials", f"the session was refused ({exc}); check {keys}")
        elif exc.status == 404:
            _logged_in(api, config, out)
            out.fail("Lead object", "this user cannot see the Lead object (describe answered "
                                    "404): give its profile or a permission set Read on Lead")
        else:
            out.fail("reachable", f"describing Lead failed: {exc}")
        return None
    _logged_in(api, config, out)
    return describe  # type: ignore[no-any-return]


def _logged_in(api: SalesforceApi, config: SalesforceConfig, out: Findings) -> None:
    sf = api.client()
    out.ok("reachable", f"https://{sf.sf_instance}")
    who = f" as {config.auth.username}" if config.auth.username else ""
    out.ok("credentials", f"logged in{who} ({config.auth.method})")


def _object_access(describe: Mapping[str, Any], out: Findings) -> None:
    refused = [verb for flag, verb in OBJECT_FLAGS.items() if not describe.get(flag)]
    if refused:
        out.fail("Lead permissions", f"this user may not {', '.join(refused)} Leads: grant "
                                     "it in its profile or a permission set")
    else:
        out.ok("Lead permissions", "query, create, edit, delete")


def _fields(fields: Mapping[str, Any], mapping: LeadMapping, out: Findings) -> bool:
    """Each mapped field: present, writable on create and update, of a usable type.
    True when every one is present."""
    targets = [("visitor_name", "FirstName"), ("visitor_name", "LastName"),
               *mapping.fields.items()]
    present = True
    for canonical, target in targets:
        name = f"field {target}"
        found = fields.get(target.casefold())
        if found is None:
            key = "" if canonical == "visitor_name" else f" (crm.fields.{canonical})"
            out.fail(name, f"{canonical} maps to it{key}, but Lead has no such field, or "
                           "field-level security hides it from this user")
            present = False
            continue
        problems = _writable(found)
        allowed = FIELD_TYPES.get(canonical, TEXT_TYPES)
        if found.get("type") not in allowed:
            problems.append(f"it is a {found.get('type')} field and {canonical} needs "
                            f"{listed(allowed)}")
        if canonical == "pipeline_stage":
            problems += _stage_values(found, mapping)
        if problems:
            out.fail(name, f"{canonical}: {'; '.join(problems)}")
        else:
            out.ok(name, f"{canonical}: exists, createable, updateable ({found.get('type')})")
    return present


def _writable(field: Mapping[str, Any]) -> list[str]:
    denied = [what for what in ("createable", "updateable") if not field.get(what)]
    if not denied:
        return []
    why = " (a formula field)" if field.get("calculated") else ""
    return [f"the sync writes it, but it is read-only for this user{why}: "
            f"{', '.join(f'{d}=false' for d in denied)}"]


def _stage_values(field: Mapping[str, Any], mapping: LeadMapping) -> list[str]:
    if field.get("type") != "picklist" or not field.get("restrictedPicklist"):
        return []
    values = {p.get("value") for p in field.get("picklistValues") or [] if p.get("active")}
    unknown = sorted(set(mapping.stage_map.values()) - values)
    if not unknown:
        return []
    return [f"crm.stage_map writes values it does not offer: {listed(unknown)}"]


def _external_id(fields: Mapping[str, Any], config: SalesforceConfig, out: Findings) -> None:
    target = config.external_id_field
    if not target:
        return
    name = f"external id {target}"
    found = fields.get(target.casefold())
    if found is None:
        out.fail(name, "crm.external_id_field names a field Lead does not have, or "
                       "field-level security hides it from this user")
        return
    problems = _writable(found)
    if not found.get("externalId"):
        problems.append("it is not marked External ID, so creates cannot upsert on it: mark "
                        "it External ID (and Unique), or unset crm.external_id_field")
    if problems:
        out.fail(name, "; ".join(problems))
        return
    unique = "unique" if found.get("unique") else "not unique: duplicates are not refused"
    out.ok(name, f"an External ID field ({unique})")


def _query(api: SalesforceApi, mapping: LeadMapping, out: Findings) -> None:
    names = [*mapping.sf_fields, *(f for f in SYSTEM_FIELDS if f not in mapping.sf_fields)]
    soql = f"SELECT {', '.join(names)} FROM Lead ORDER BY SystemModstamp DESC LIMIT 1"
    try:
        api.call(lambda sf: sf.query(soql, include_deleted=True), retry=False)
    except (SalesforceApiError, SalesforceAuthError) as exc:
        out.fail("read leads", f"queryAll over the mapped fields was refused: {exc}")
        return
    out.ok("read leads", f"queryAll over the {len(names)} fields the sync reads")


def _deleted_feed(api: SalesforceApi, describe: Mapping[str, Any],
                  clock: Callable[[], datetime], out: Findings) -> None:
    name = "deleted leads feed"
    fix = "or set crm.deleted_check_seconds: 0 to stop looking for purged leads"
    if not describe.get("replicateable"):
        out.fail(name, f"Lead is not replicateable for this user, so getDeleted is refused; "
                       f"grant it, {fix}")
        return
    now = clock()
    try:
        api.call(lambda sf: sf.Lead.deleted(now - timedelta(hours=1), now), retry=False)
    except (SalesforceApiError, SalesforceAuthError) as exc:
        out.fail(name, f"getDeleted was refused: {exc}; {fix}")
        return
    out.ok(name, "getDeleted answers")


def _users(api: SalesforceApi, config: SalesforceConfig, out: Findings) -> None:
    name = "users for reps"
    wanted = sorted(set(config.rep_map.values()))
    # Every user, not ``Id IN (...)``: a malformed id there fails the whole query, and
    # the sync reads them all anyway to match reps by email.
    soql = "SELECT Id, IsActive FROM User"
    try:
        page = api.call(lambda sf: sf.query_all(soql), retry=False)
    except (SalesforceApiError, SalesforceAuthError) as exc:
        out.fail(name, f"reading users failed ({exc}); owners cannot be mapped")
        return
    rows = {str(r["Id"])[:15]: bool(r.get("IsActive")) for r in page.get("records") or []}
    missing = [u for u in wanted if u[:15] not in rows]
    inactive = [u for u in wanted if rows.get(u[:15]) is False]
    problems = []
    if missing:
        problems.append(f"crm.rep_map names users that do not exist: {listed(missing)}")
    if inactive:
        problems.append(f"crm.rep_map names inactive users (they cannot own leads): "
                        f"{listed(inactive)}")
    if problems:
        out.fail(name, "; ".join(problems))
    elif wanted:
        out.ok(name, f"the {len(wanted)} users in crm.rep_map exist and are active")
    else:
        out.ok(name, "users are readable (reps are matched by email)")
