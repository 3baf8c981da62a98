"""The HubSpot section of a pair."""

from __future__ import annotations

import pytest

from nexasync.config import ConfigError, HubSpotConfig, parse_config


def _pair(**crm: object) -> dict[str, object]:
    return {
        "pairs": [{"name": "hs", "nexadesk": {"api_key": "k"}, "crm": {"type": "hubspot", **crm}}]
    }


def test_hubspot_pair_with_defaults() -> None:
    crm = parse_config(_pair(access_token="pat-secret-123")).pairs[0].crm
    assert isinstance(crm, HubSpotConfig)
    assert crm.base_url == "https://api.hubapi.com"
    assert crm.fields["visitor_email"] == "email"
    assert crm.fields["need_summary"] == "message"
    assert crm.stage_map["new"] == "NEW" and crm.stage_map_back["CONNECTED"] == "contacted"
    assert "pat-secret-123" not in repr(crm)


def test_lifecycle_stage_property_changes_the_stage_map() -> None:
    crm = parse_config(_pair(access_token="t", stage_property="lifecyclestage")).pairs[0].crm
    assert crm.stage_map["converted"] == "customer"
    assert crm.stage_map_back["lead"] == "new"


def test_missing_token_and_bad_keys_are_named() -> None:
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.crm: .*access_token"):
        parse_config(_pair())
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.crm\.auth: unknown key"):
        parse_config(_pair(access_token="t", auth={}))
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.crm\.type: unknown CRM type 'zoho'"):
        parse_config(_pair(type="zoho"))
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.crm\.stage_property"):
        parse_config(_pair(access_token="t", stage_property="dealstage"))
