"""The case lifecycle and the hash of events, as pure domain rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kotapintar.cases.lifecycle import CASE_TRANSITIONS, FINAL_STATUSES, CaseStatus, check_transition
from kotapintar.core.errors import IllegalTransition
from kotapintar.core.events.types import GENESIS_HASH, EventContent, chain_hash


def test_happy_path_is_allowed_in_order() -> None:
    path = ["received", "verified", "assigned", "in_progress", "resolved", "closed"]
    for current, target in itertools.pairwise(path):
        check_transition(CaseStatus(current), CaseStatus(target))


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_final_statuses_never_move(final: CaseStatus) -> None:
    for target in CaseStatus:
        with pytest.raises(IllegalTransition) as err:
            check_transition(final, target)
        assert "final" in err.value.message
        assert err.value.code == "illegal_transition"


def test_illegal_move_names_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition(CaseStatus.RECEIVED, CaseStatus.CLOSED)
    assert "allowed next" in err.value.message
    assert "verified" in err.value.message
    assert err.value.details["allowed"] == sorted(s.value for s in CASE_TRANSITIONS[CaseStatus.RECEIVED])


def test_open311_mapping() -> None:
    assert {s.open311 for s in (CaseStatus.RECEIVED, CaseStatus.IN_PROGRESS)} == {"open"}
    assert {s.open311 for s in (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.REJECTED)} == {"closed"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(payload=st.dictionaries(st.text(max_size=10), json_values, max_size=5), seq=st.integers(1, 10**6))
def test_hash_is_deterministic_and_covers_every_field(payload: dict[str, object], seq: int) -> None:
    at = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    base = EventContent(
        case_id=7, seq=seq, type="case_created", actor="user:operator", occurred_at=at, payload=payload
    )
    h = chain_hash(GENESIS_HASH, base)
    assert h == chain_hash(
        GENESIS_HASH, EventContent(**{**base.__dict__, "payload": dict(reversed(list(payload.items())))})
    )
    variants = [
        EventContent(**{**base.__dict__, "seq": seq + 1}),
        EventContent(**{**base.__dict__, "type": "case_closed"}),
        EventContent(**{**base.__dict__, "actor": "user:other"}),
        EventContent(**{**base.__dict__, "occurred_at": at.replace(microsecond=1)}),
        EventContent(**{**base.__dict__, "payload": {**payload, "tampered": True}}),
    ]
    for variant in variants:
        assert chain_hash(GENESIS_HASH, variant) != h
    assert chain_hash("1" * 64, base) != h
