"""Case statuses, priorities and the allowed transitions of the case lifecycle, kept as data."""

from __future__ import annotations

from enum import StrEnum

from kotapintar.core.errors import IllegalTransition


class Priority(StrEnum):
    """How urgent a case is: P1 life-threatening … P4 administrative."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """1 for P1 … 4 for P4; lower is more urgent."""
        return int(self.value[1])


class CaseStatus(StrEnum):
    """Public statuses of a case, in lifecycle order, plus the two ends `rejected` and `merged`."""

    RECEIVED = "received"
    VERIFIED = "verified"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    MERGED = "merged"

    @property
    def is_open(self) -> bool:
        """True while somebody still has to act (Open311 `open`)."""
        return self in OPEN_STATUSES

    @property
    def open311(self) -> str:
        """The Open311 status: `open` before resolution, `closed` after."""
        return "open" if self.is_open else "closed"


OPEN_STATUSES: frozenset[CaseStatus] = frozenset(
    {CaseStatus.RECEIVED, CaseStatus.VERIFIED, CaseStatus.ASSIGNED, CaseStatus.IN_PROGRESS}
)
# The open statuses as stored strings, in lifecycle order (for SQL `IN` lists and query strings).
OPEN_STATUS_CODES: tuple[str, ...] = tuple(s.value for s in CaseStatus if s in OPEN_STATUSES)
FINAL_STATUSES: frozenset[CaseStatus] = frozenset({CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.MERGED})

# The lifecycle as data: for every status, the statuses a case may move to next.
# Forward skips are allowed where real work skips a stage (a sensor alarm is verified by the rule that
# raised it; an emergency is assigned straight from the call); going back is allowed only to reopen.
CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.RECEIVED: frozenset(
        {CaseStatus.VERIFIED, CaseStatus.ASSIGNED, CaseStatus.REJECTED, CaseStatus.MERGED}
    ),
    # The command center may answer a simple request itself (verified → resolved) without disposing it.
    CaseStatus.VERIFIED: frozenset(
        {CaseStatus.ASSIGNED, CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.MERGED}
    ),
    CaseStatus.ASSIGNED: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.VERIFIED, CaseStatus.MERGED}
    ),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.RESOLVED, CaseStatus.ASSIGNED, CaseStatus.MERGED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.CLOSED, CaseStatus.IN_PROGRESS}),
    CaseStatus.CLOSED: frozenset(),
    CaseStatus.REJECTED: frozenset(),
    CaseStatus.MERGED: frozenset(),
}

STATUS_LABELS: dict[CaseStatus, tuple[str, str]] = {
    CaseStatus.RECEIVED: ("diterima", "received"),
    CaseStatus.VERIFIED: ("diverifikasi", "verified"),
    CaseStatus.ASSIGNED: ("didisposisikan", "assigned"),
    CaseStatus.IN_PROGRESS: ("ditangani", "in progress"),
    CaseStatus.RESOLVED: ("selesai", "resolved"),
    CaseStatus.CLOSED: ("ditutup", "closed"),
    CaseStatus.REJECTED: ("ditolak", "rejected"),
    CaseStatus.MERGED: ("digabung", "merged"),
}


def allowed_next(status: CaseStatus) -> frozenset[CaseStatus]:
    """The statuses a case in `status` may move to."""
    return CASE_TRANSITIONS[status]


def check_transition(current: CaseStatus, target: CaseStatus) -> None:
    """Raise IllegalTransition, with a message a person can act on, unless current → target is allowed."""
    if target in CASE_TRANSITIONS[current]:
        return
    allowed = sorted(s.value for s in CASE_TRANSITIONS[current])
    if allowed:
        hint_id = "status berikutnya yang boleh: " + ", ".join(allowed)
        hint = "allowed next: " + ", ".join(allowed)
    else:
        hint_id = f"kasus yang {current.value} sudah final dan tidak dapat diubah lagi"
        hint = f"a case that is {current.value} is final and cannot change any more"
    raise IllegalTransition(
        f"Kasus berstatus '{current.value}' tidak dapat diubah menjadi '{target.value}' ({hint_id}) / "
        f"Cannot move a case from '{current.value}' to '{target.value}' ({hint}).",
        current=current.value,
        target=target.value,
        allowed=allowed,
    )
