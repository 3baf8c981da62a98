"""``nexasync check`` for HubSpot: the token, its scopes, every mapped contact
property and the owners reps map to, changing nothing.

A one-page contact listing shows the API answers and the token is accepted. A
private-app token's scopes come from ``POST /oauth/v2/private-apps/get/access-token-info``
(which needs no scope); other tokens cannot be introspected that way, and then the
reads below are the test. Each mapped property is read from the properties API:
missing, read-only (``modificationMetadata.readOnlyValue`` or calculated), of a type
the value cannot go into, or an enumeration lacking a stage value are all problems.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx

from nexasync._config_hubspot import HubSpotConfig
from nexasync.connectors._checks import Findings, key_hint, listed
from nexasync.connectors._hs_api import HubSpotApi, HubSpotApiError
from nexasync.connectors._hs_mapping import ContactMapping
from nexasync.connectors._hs_owners import load_owners
from nexasync.connectors.base import Check
from nexasync.lead import FIELDS

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
CONTACT_TYPES = ("contacts", "contact", "0-1")
OWNERS_SCOPE = "crm.objects.owners.read"
#: Before granular scopes, ``contacts`` granted contact reads and writes.
LEGACY = {"crm.objects.contacts.read": "contacts", "crm.objects.contacts.write": "contacts"}
TEXT = frozenset({"string", "phone_number"})
#: The property types each canonical field may be written to (default: text).
PROPERTY_TYPES: dict[str, frozenset[str]] = {
    "expected_billing_amount": frozenset({"number", "string"}),
    "assigned_rep_id": frozenset({"enumeration", "string", "number"}),
    "pipeline_stage": frozenset({"enumeration", "string"}),
    "tags": frozenset({"enumeration", "string"}),
}
KEY = key_hint("crm", "access_token")


def run_checks(config: HubSpotConfig, mapping: ContactMapping) -> list[Check]:
    out = Findings("hubspot")
    # No retries: a check reports at once instead of backing off.
    api = HubSpotApi(config.model_copy(update={"max_retries": 0}), backoff_seconds=0)
    try:
        if not _connect(api, config, out):
            return out.items
        owners = "assigned_rep_id" in mapping.fields and bool(config.rep_by_email
                                                               or config.rep_map)
        _scopes(config, owners, out)
        _properties(api, mapping, out)
        if owners:
            _owners(api, config, out)
    finally:
        api.close()
    return out.items


def _connect(api: HubSpotApi, config: HubSpotConfig, out: Findings) -> bool:
    where = config.base_url.rstrip("/")
    try:
        api.list_page(archived=False, properties=["hs_object_id"])
    except HubSpotApiError as exc:
        if exc.status is None or exc.status == 0:
            out.fail("reachable", f"cannot reach {where}: {exc} "
                                  "(check crm.base_url, crm.ca_bundle)")
        elif exc.status == 401:
            out.ok("reachable", where)
            out.fail("credentials", f"HubSpot refused the token ({exc.detail}): check {KEY}")
        elif exc.status == 403:
            out.ok("reachable", where)
            out.ok("credentials", "the token is accepted")
            out.fail(f"read {config.object_type}", _forbidden(exc))
        else:
            out.fail("reachable", f"listing {config.object_type} failed: {exc}")
        return False
    out.ok("reachable", where)
    out.ok("credentials", "the token is accepted")
    out.ok(f"read {config.object_type}", "listing works")
    return True


def _forbidden(exc: HubSpotApiError) -> str:
    scopes = sorted(set(_required_scopes(exc.body)))
    need = f": it needs {' or '.join(scopes)}" if scopes else ""
    return f"HubSpot refused the call ({exc.category or exc.status}){need}; add the scope " \
           "to the private app and use its new token"


def _required_scopes(body: Any) -> Iterator[str]:
    for error in body.get("errors") or []:
        if not isinstance(error, dict):
            continue
        context = error.get("context") or {}
        for key in ("requiredGranularScopes", "requiredScopes"):
            yield from (str(s) for s in context.get(key) or [])


def needed_scopes(config: HubSpotConfig, owners: bool) -> list[str]:
    kind = "contacts" if config.object_type in CONTACT_TYPES else "custom"
    scopes = [f"crm.objects.{kind}.read", f"crm.objects.{kind}.write"]
    return [*scopes, OWNERS_SCOPE] if owners else scopes


def _scopes(config: HubSpotConfig, owners: bool, out: Findings) -> None:
    granted = _token_scopes(config)
    if isinstance(granted, str):
        out.ok("token scopes", f"not listed ({granted}); the calls below test access")
        return
    missing = [s for s in needed_scopes(config, owners)
               if s not in granted and LEGACY.get(s) not in granted]
    if missing:
        out.fail("token scopes", f"the private app lacks {listed(missing)} (reading, "
                                 "creating, updating and archiving need them): add them in "
                                 "HubSpot and use its new token")
    else:
        out.ok("token scopes", listed(needed_scopes(config, owners)))


def _token_scopes(config: HubSpotConfig) -> set[str] | str:
    """The token's scopes, or why they could not be read."""
    assert config.access_token is not None
    token = config.access_token.get_secret_value()
    verify: ssl.SSLContext | bool = True
    if config.ca_bundle is not None:
        verify = ssl.create_default_context(cafile=str(config.ca_bundle))
    try:
        # The token goes to the host its Authorization header already goes to.
        response = httpx.post(
            config.base_url.rstrip("/") + TOKEN_INFO_PATH, json={"tokenKey": token},
            headers={"Authorization": f"Bearer {token}"}, verify=verify,
            timeout=config.timeout)
    except httpx.HTTPError as exc:
        return f"token info failed: {type(exc).__name__}"
    if response.status_code != 200:
        return f"token info answered HTTP {response.status_code}: not a private-app token?"
    try:
        scopes = response.json()["scopes"]
    except (ValueError, KeyError, TypeError):
        return "token info answered without scopes"
    return {str(s) for s in scopes}


def _targets(mapping: ContactMapping) -> list[tuple[str, str]]:
    """(canonical field, property) for each property the sync writes."""
    out = [("visitor_name", "firstname"), ("visitor_name", "lastname")]
    out += [(f, t) for f in FIELDS if f != "visitor_name" and (t := mapping.target(f))]
    return out


def _properties(api: HubSpotApi, mapping: ContactMapping, out: Findings) -> None:
    for canonical, target in _targets(mapping):
        name = f"property {target}"
        key = {"visitor_name": "", "pipeline_stage": " (crm.stage_property)"}.get(
            canonical, f" (crm.fields.{canonical})")
        try:
            prop = api.get_property(target)
        except HubSpotApiError as exc:
            if exc.status == 404:
                out.fail(name, f"{canonical} maps to it{key}, but {api.object_type} have no "
                               "such property: create it in HubSpot or fix the mapping")
                continue
            reason = _forbidden(exc) if exc.status == 403 else str(exc)
            out.fail("properties", f"reading property definitions failed: {reason}")
            return
        problems = _property_problems(canonical, prop, mapping)
        if problems:
            out.fail(name, f"{canonical}: {'; '.join(problems)}")
        else:
            out.ok(name, f"{canonical}: exists, writable ({prop.get('type')})")


def _property_problems(canonical: str, prop: dict[str, Any],
                       mapping: ContactMapping) -> list[str]:
    problems = []
    meta = prop.get("modificationMetadata") or {}
    if meta.get("readOnlyValue") or prop.get("calculated"):
        why = "calculated" if prop.get("calculated") else "its value is read-only"
        problems.append(f"the sync writes it, but HubSpot does not accept writes ({why})")
    kind = prop.get("type")
    allowed = PROPERTY_TYPES.get(canonical, TEXT)
    if kind not in allowed:
        problems.append(f"it is a {kind} property and {canonical} needs {listed(allowed)}")
    elif canonical == "pipeline_stage" and kind == "enumeration":
        offered = {str(o.get("value")) for o in prop.get("options") or []}
        unknown = sorted(set(mapping.stage_map.values()) - offered)
        if unknown:
            problems.append(f"crm.stage_map writes values it does not offer: {listed(unknown)}")
    return problems


def _owners(api: HubSpotApi, config: HubSpotConfig, out: Findings) -> None:
    name = "owners for reps"
    try:
        owners = load_owners(api)
    except HubSpotApiError as exc:
        reason = _forbidden(exc) if exc.status == 403 else str(exc)
        out.fail(name, f"reading owners failed, so reps cannot be mapped: {reason}")
        return
    unknown = sorted(set(config.rep_map.values()) - set(owners))
    if unknown:
        out.fail(name, f"crm.rep_map names owners that do not exist or are archived: "
                       f"{listed(unknown)}")
    else:
        out.ok(name, f"{len(owners)} active owners readable")
