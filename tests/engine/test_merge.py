"""The per-field three-way merge: what flows, what conflicts, what must never be written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nexasync.connectors.memory import MemoryConnector
from nexasync.engine.merge import MergeResult, SideState, merge
from nexasync.lead import FIELDS, STAGES, Lead, normalise

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
EARLY, LATE = T0, T0 + timedelta(minutes=5)

CRM_NAME_LIMIT = 20
CRM_STAGE_MAP = {"qualified": "contacted", "assigned": "new"}

CRM = MemoryConnector("crm", name_limit=CRM_NAME_LIMIT, stage_map=dict(CRM_STAGE_MAP))


def same(lead: Lead) -> Lead:
    return dict(lead)


def two_way(_: str) -> str:
    return "two-way"


def run(
    nd: Lead,
    nd_base: Lead,
    crm: Lead,
    crm_base: Lead,
    *,
    rule: str = "two-way",
    nd_time: datetime | None = EARLY,
    crm_time: datetime | None = LATE,
    lossy: bool = False,
    new_link: bool = False,
) -> MergeResult:
    return merge(
        SideState(normalise(nd), normalise(nd_base), nd_time),
        SideState(normalise(crm), normalise(crm_base), crm_time),
        lambda _: rule,
        same,
        CRM.project if lossy else same,
        new_link=new_link,
    )


BASE = {"visitor_name": "Ann Lee", "visitor_email": "ann@x.com", "visitor_phone": "111"}


# -- one side changed --------------------------------------------------------------------
def test_change_on_nexadesk_flows_to_crm() -> None:
    r = run({**BASE, "visitor_phone": "222"}, BASE, BASE, BASE)
    assert r.to_crm == {"visitor_phone": "222"}
    assert r.to_nexadesk == {}
    assert r.base_crm["visitor_phone"] == "222"
    assert r.base_nexadesk["visitor_phone"] == "222"


def test_change_on_crm_flows_to_nexadesk() -> None:
    r = run(BASE, BASE, {**BASE, "visitor_company": "Acme"}, BASE)
    assert r.to_nexadesk == {"visitor_company": "Acme"}
    assert r.to_crm == {}
    assert r.base_nexadesk["visitor_company"] == "Acme"


def test_clearing_a_field_flows_as_blank() -> None:
    r = run(BASE, BASE, {**BASE, "visitor_phone": None}, BASE)
    assert r.to_nexadesk == {"visitor_phone": None}


def test_unchanged_sides_write_nothing() -> None:
    r = run(BASE, BASE, BASE, BASE)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


def test_changes_to_different_fields_both_flow() -> None:
    r = run({**BASE, "visitor_phone": "222"}, BASE, {**BASE, "visitor_company": "Acme"}, BASE)
    assert r.to_crm == {"visitor_phone": "222"}
    assert r.to_nexadesk == {"visitor_company": "Acme"}


def test_tags_compare_as_sets() -> None:
    base = {**BASE, "tags": ["a", "b"]}
    r = run({**BASE, "tags": ["b", "a", "a"]}, base, base, base)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


def test_amounts_compare_as_numbers() -> None:
    base = {**BASE, "expected_billing_amount": 5000}
    r = run({**BASE, "expected_billing_amount": "5000.00"}, base, base, base)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


# -- both changed ------------------------------------------------------------------------
def test_both_changed_to_the_same_value_writes_nothing() -> None:
    changed = {**BASE, "visitor_phone": "999"}
    r = run(changed, BASE, changed, BASE)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})
    assert r.base_nexadesk["visitor_phone"] == r.base_crm["visitor_phone"] == "999"
    assert not r.notes


def test_both_changed_to_equivalent_values_through_the_mapping_writes_nothing() -> None:
    base_nd, base_crm = {**BASE, "pipeline_stage": "new"}, {**BASE, "pipeline_stage": "new"}
    r = run(
        {**BASE, "pipeline_stage": "qualified"},
        base_nd,
        {**BASE, "pipeline_stage": "contacted"},
        base_crm,
        lossy=True,
    )
    assert (r.to_crm, r.to_nexadesk) == ({}, {})
    assert r.base_nexadesk["pipeline_stage"] == "qualified"
    assert r.base_crm["pipeline_stage"] == "contacted"


def test_both_changed_emails_differing_only_in_case_write_nothing() -> None:
    r = run(
        {**BASE, "visitor_email": "New@X.com"}, BASE, {**BASE, "visitor_email": "new@x.COM"}, BASE
    )
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


CONFLICT_ND = {**BASE, "visitor_phone": "222"}
CONFLICT_CRM = {**BASE, "visitor_phone": "333"}


@pytest.mark.parametrize(
    ("rule", "nd_time", "crm_time", "winner"),
    [
        ("two-way", EARLY, LATE, "crm"),
        ("two-way", LATE, EARLY, "nexadesk"),
        # No timestamps, or a tie: NexaDesk, deterministically.
        ("two-way", None, LATE, "nexadesk"),
        ("two-way", LATE, LATE, "nexadesk"),
        ("prefer-nexadesk-unless-blank", EARLY, LATE, "nexadesk"),
        ("prefer-crm-unless-blank", LATE, EARLY, "crm"),
        ("always-nexadesk", EARLY, LATE, "nexadesk"),
        ("always-crm", LATE, EARLY, "crm"),
    ],
)
def test_conflict_is_settled_by_the_rule(
    rule: str, nd_time: datetime | None, crm_time: datetime | None, winner: str
) -> None:
    r = run(CONFLICT_ND, BASE, CONFLICT_CRM, BASE, rule=rule, nd_time=nd_time, crm_time=crm_time)
    if winner == "nexadesk":
        assert r.to_crm == {"visitor_phone": "222"}
        assert r.to_nexadesk == {}
    else:
        assert r.to_nexadesk == {"visitor_phone": "333"}
        assert r.to_crm == {}
    assert r.base_nexadesk["visitor_phone"] == r.base_crm["visitor_phone"]
    assert any("conflict on visitor_phone" in n for n in r.notes)


@pytest.mark.parametrize(
    ("rule", "blank_side", "winner"),
    [
        ("prefer-nexadesk-unless-blank", "nexadesk", "crm"),
        ("prefer-nexadesk-unless-blank", "crm", "nexadesk"),
        ("prefer-crm-unless-blank", "crm", "nexadesk"),
        ("prefer-crm-unless-blank", "nexadesk", "crm"),
    ],
)
def test_prefer_unless_blank_lets_a_filled_value_beat_a_blank(
    rule: str, blank_side: str, winner: str
) -> None:
    nd = {**BASE, "visitor_phone": None if blank_side == "nexadesk" else "222"}
    crm = {**BASE, "visitor_phone": None if blank_side == "crm" else "333"}
    # Times favour the loser, so only the rule can explain the outcome.
    nd_time, crm_time = (EARLY, LATE) if winner == "nexadesk" else (LATE, EARLY)
    r = run(nd, BASE, crm, BASE, rule=rule, nd_time=nd_time, crm_time=crm_time)
    if winner == "nexadesk":
        assert (r.to_crm, r.to_nexadesk) == ({"visitor_phone": "222"}, {})
    else:
        assert (r.to_nexadesk, r.to_crm) == ({"visitor_phone": "333"}, {})


def test_rule_none_never_writes_either_way() -> None:
    for nd, crm in [
        (CONFLICT_ND, CONFLICT_CRM),
        (CONFLICT_ND, BASE),
        (BASE, CONFLICT_CRM),
    ]:
        r = run(nd, BASE, crm, BASE, rule="none")
        assert (r.to_crm, r.to_nexadesk) == ({}, {})
        # Each side's base follows what it holds, so nothing is pending later either.
        assert r.base_nexadesk["visitor_phone"] == normalise(nd)["visitor_phone"]
        assert r.base_crm["visitor_phone"] == normalise(crm)["visitor_phone"]


def test_always_rules_restore_the_ruling_side_on_a_one_sided_change() -> None:
    r = run(CONFLICT_ND, BASE, BASE, BASE, rule="always-crm")
    assert r.to_nexadesk == {"visitor_phone": "111"}
    assert r.to_crm == {}
    r = run(BASE, BASE, CONFLICT_CRM, BASE, rule="always-nexadesk")
    assert r.to_crm == {"visitor_phone": "111"}
    assert r.to_nexadesk == {}


def test_other_fields_keep_the_default_rule() -> None:
    rules = {"visitor_phone": "always-crm"}
    r = merge(
        SideState(normalise({**CONFLICT_ND, "visitor_company": "A"}), normalise(BASE), LATE),
        SideState(normalise({**CONFLICT_CRM, "visitor_company": "B"}), normalise(BASE), EARLY),
        lambda f: rules.get(f, "two-way"),
        same,
        same,
    )
    assert r.to_nexadesk == {"visitor_phone": "333"}
    assert r.to_crm == {"visitor_company": "A"}


# -- first pairing (matched by email) --------------------------------------------------------
def test_new_link_fills_blanks_from_either_side_whatever_the_times() -> None:
    nd = {"visitor_email": "a@x.com", "visitor_phone": "1", "visitor_company": None}
    crm = {"visitor_email": "a@x.com", "visitor_phone": None, "visitor_company": "Acme"}
    for nd_time, crm_time in [(EARLY, LATE), (LATE, EARLY)]:
        r = run(nd, {}, crm, {}, new_link=True, nd_time=nd_time, crm_time=crm_time)
        assert r.to_crm == {"visitor_phone": "1"}
        assert r.to_nexadesk == {"visitor_company": "Acme"}


def test_new_link_with_different_values_takes_the_newer_side() -> None:
    nd = {"visitor_email": "a@x.com", "visitor_name": "Ann"}
    crm = {"visitor_email": "a@x.com", "visitor_name": "Anne"}
    r = run(nd, {}, crm, {}, new_link=True, nd_time=EARLY, crm_time=LATE)
    assert (r.to_nexadesk, r.to_crm) == ({"visitor_name": "Anne"}, {})


# -- absent (unknown) fields -----------------------------------------------------------------
def test_a_field_absent_on_one_side_is_never_written_from_it() -> None:
    # The CRM does not read the phone (unmapped, or the API left it out): that is not a
    # blank, so it must not clear NexaDesk's phone, even when the CRM is the newer side.
    crm_now = {k: v for k, v in BASE.items() if k != "visitor_phone"}
    r = run(BASE, BASE, crm_now, BASE, nd_time=EARLY, crm_time=LATE)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})
    r = run(BASE, BASE, crm_now, BASE, rule="always-crm")
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


def test_a_field_absent_on_both_sides_is_left_alone() -> None:
    base = {**BASE, "tags": ["x"]}
    r = run(BASE, base, BASE, base, new_link=False)
    assert "tags" not in r.to_crm and "tags" not in r.to_nexadesk
    r = run(BASE, {}, BASE, {}, new_link=True)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


def test_a_blank_is_not_written_into_a_field_the_other_side_does_not_hold() -> None:
    # First pairing: NexaDesk's phone is blank, the CRM has no phone field at all. Both
    # say "no phone"; writing a blank there changes nothing and costs a call per lead.
    nd = {"visitor_email": "a@x.com", "visitor_phone": None, "tags": []}
    crm = {"visitor_email": "a@x.com"}
    r = run(nd, {}, crm, {}, new_link=True)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


def test_a_blank_where_the_base_had_nothing_does_not_beat_a_real_edit() -> None:
    # NexaDesk now reports the amount as blank (it never had one); the CRM set it. The
    # blank is not a change, so the CRM's value flows even though NexaDesk is newer.
    r = run(
        {**BASE, "expected_billing_amount": None},
        BASE,
        {**BASE, "expected_billing_amount": 100},
        BASE,
        nd_time=LATE,
        crm_time=EARLY,
    )
    assert (r.to_nexadesk, r.to_crm) == ({"expected_billing_amount": 100}, {})


def test_a_value_is_written_into_a_field_the_other_side_does_not_hold_yet() -> None:
    crm_now = {k: v for k, v in BASE.items() if k != "visitor_phone"}
    crm_base = dict(crm_now)
    r = run({**BASE, "visitor_phone": "222"}, BASE, crm_now, crm_base)
    assert r.to_crm == {"visitor_phone": "222"}


# -- lossy mappings ----------------------------------------------------------------------------
LONG = "Alexandra Wonderland-Smythe"  # longer than the CRM keeps
TRUNC = LONG[:CRM_NAME_LIMIT].rstrip()


def test_truncated_name_is_not_written_back() -> None:
    nd = {**BASE, "visitor_name": LONG}
    crm = {**BASE, "visitor_name": TRUNC}
    # Steady state after syncing a long name: each side's base is what it holds.
    r = run(nd, nd, crm, crm, lossy=True)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})
    # First pairing of the same two records.
    r = run(nd, {}, crm, {}, lossy=True, new_link=True, nd_time=EARLY, crm_time=LATE)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


def test_long_name_change_that_reads_back_the_same_writes_nothing() -> None:
    before = {**BASE, "visitor_name": LONG}
    after = {**BASE, "visitor_name": LONG[:CRM_NAME_LIMIT] + " Jones"}
    crm = {**BASE, "visitor_name": TRUNC}
    r = run(after, before, crm, crm, lossy=True)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})
    assert r.base_nexadesk["visitor_name"] == normalise(after)["visitor_name"]
    assert r.base_crm["visitor_name"] == TRUNC


def test_long_name_change_is_written_in_full_and_based_as_it_reads_back() -> None:
    new = "Bartholomew Featherstonehaugh"
    r = run({**BASE, "visitor_name": new}, BASE, BASE, BASE, lossy=True)
    assert r.to_crm == {"visitor_name": new}
    assert r.base_crm["visitor_name"] == new[:CRM_NAME_LIMIT].rstrip()


def test_many_to_one_stage_is_not_written_back() -> None:
    nd = {**BASE, "pipeline_stage": "qualified"}
    crm = {**BASE, "pipeline_stage": "contacted"}
    r = run(nd, nd, crm, crm, lossy=True)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})
    # NexaDesk moves between two stages the CRM cannot tell apart: nothing to write.
    r = run({**BASE, "pipeline_stage": "contacted"}, nd, crm, crm, lossy=True)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})
    # A CRM change that is not a re-reading of NexaDesk's stage does flow.
    r = run(nd, nd, {**BASE, "pipeline_stage": "lost"}, crm, lossy=True)
    assert r.to_nexadesk == {"pipeline_stage": "lost"}


def test_crm_side_value_equal_to_the_projection_is_not_written_back() -> None:
    # The CRM moved (against a stale base) onto exactly how NexaDesk's value reads there:
    # the sides agree, and writing the truncated form to NexaDesk would lose the name.
    nd = {**BASE, "visitor_name": LONG}
    crm = {**BASE, "visitor_name": TRUNC}
    r = run(nd, nd, crm, {**BASE, "visitor_name": "Old"}, lossy=True)
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


# -- properties --------------------------------------------------------------------------------
NAMES = st.sampled_from(
    [
        None,
        "Ann",
        "Ann Lee",
        LONG,
        LONG[:CRM_NAME_LIMIT] + " Jones",
        "Bartholomew Featherstonehaugh",
    ]
)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "visitor_name": NAMES,
    "visitor_email": st.sampled_from([None, "a@x.com", "A@X.com", "b@x.com"]),
    "visitor_phone": st.sampled_from([None, "1", "2"]),
    "visitor_company": st.sampled_from([None, "Acme", "Beta"]),
    "pipeline_stage": st.sampled_from([None, *STAGES]),
    "need_summary": st.sampled_from([None, "demo"]),
    "source": st.sampled_from([None, "chat"]),
    "expected_billing_amount": st.sampled_from([None, 0, 100, 99.5, "100.00"]),
    "tags": st.sampled_from([[], ["a"], ["a", "b"], ["b", "a"]]),
    "assigned_rep_id": st.sampled_from([None, "r1", "r2"]),
}
RULES = st.sampled_from(
    [
        "two-way",
        "prefer-nexadesk-unless-blank",
        "prefer-crm-unless-blank",
        "always-nexadesk",
        "always-crm",
        "none",
    ]
)


@st.composite
def leads(draw: st.DrawFn) -> Lead:
    names = draw(st.sets(st.sampled_from(FIELDS)))
    return normalise({n: draw(VALUES[n]) for n in sorted(names)})


times = st.one_of(st.none(), st.integers(0, 3).map(lambda m: T0 + timedelta(minutes=m)))
rule_maps = st.fixed_dictionaries({f: RULES for f in FIELDS})


def _merge(
    nd: SideState, crm: SideState, rules: dict[str, str], lossy: bool, new_link: bool
) -> MergeResult:
    return merge(
        nd, crm, rules.__getitem__, same, CRM.project if lossy else same, new_link=new_link
    )


@settings(max_examples=300, deadline=None)
@given(
    lead=leads(),
    nd_base=leads(),
    crm_base=leads(),
    nd_time=times,
    crm_time=times,
    rules=rule_maps,
    lossy=st.booleans(),
    new_link=st.booleans(),
)
@example(
    # Found by this property: the CRM, against a stale base, holds exactly how NexaDesk's
    # long name reads there; the truncated name used to be written back to NexaDesk.
    lead={"visitor_name": LONG},
    nd_base={"visitor_name": LONG},
    crm_base={},
    nd_time=None,
    crm_time=None,
    rules=dict.fromkeys(FIELDS, "two-way"),
    lossy=True,
    new_link=False,
)
def test_a_side_merged_against_itself_writes_nothing(
    lead: Lead,
    nd_base: Lead,
    crm_base: Lead,
    nd_time: datetime | None,
    crm_time: datetime | None,
    rules: dict[str, str],
    lossy: bool,
    new_link: bool,
) -> None:
    project = CRM.project if lossy else same
    r = _merge(
        SideState(lead, nd_base, nd_time),
        SideState(project(lead), crm_base, crm_time),
        rules,
        lossy,
        new_link,
    )
    assert (r.to_crm, r.to_nexadesk) == ({}, {})


@settings(max_examples=500, deadline=None)
@given(
    nd=leads(),
    crm=leads(),
    nd_base=leads(),
    crm_base=leads(),
    nd_time=times,
    crm_time=times,
    rules=rule_maps,
    lossy=st.booleans(),
    new_link=st.booleans(),
)
def test_bases_after_a_merge_are_a_fixed_point(
    nd: Lead,
    crm: Lead,
    nd_base: Lead,
    crm_base: Lead,
    nd_time: datetime | None,
    crm_time: datetime | None,
    rules: dict[str, str],
    lossy: bool,
    new_link: bool,
) -> None:
    project = CRM.project if lossy else same
    crm = project(crm)  # a CRM only ever holds values as it reads them back
    first = _merge(
        SideState(nd, nd_base, nd_time), SideState(crm, crm_base, crm_time), rules, lossy, new_link
    )
    # What each side holds once the writes are done, read back through its mapping.
    nd_after = same({**nd, **first.to_nexadesk})
    crm_after = project({**crm, **first.to_crm})
    for name, value in nd_after.items():
        assert first.base_nexadesk.get(name) == value, name
    for name, value in crm_after.items():
        assert first.base_crm.get(name) == value, name
    again = _merge(
        SideState(nd_after, first.base_nexadesk, nd_time),
        SideState(crm_after, first.base_crm, crm_time),
        rules,
        lossy,
        False,
    )
    assert (again.to_crm, again.to_nexadesk) == ({}, {})
