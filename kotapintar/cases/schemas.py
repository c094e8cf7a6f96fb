"""Read and write models of the services, shared by the API (as response/request bodies) and the web."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

CHANNELS = ("web", "api", "open311", "sms", "whatsapp", "telegram", "call112", "sensor", "walk_in")


class ReporterIn(BaseModel):
    """A reporter's personal data; stored apart from the report and shown only to roles allowed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")
    email: EmailStr | None = None
    nik: str | None = Field(None, pattern=r"^[0-9]{16}$", description="Nomor Induk Kependudukan, 16 digits")


class ReportIn(BaseModel):
    """A report as submitted through any channel."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service_code: str = Field(..., min_length=1, max_length=60, examples=["jalan_rusak"])
    description: str = Field(..., min_length=3, examples=["Jalan berlubang besar di depan SDN 2 Selat"])
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False, description="WGS84 longitude")
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False, description="WGS84 latitude")
    address: str | None = Field(None, max_length=300)
    location_accuracy_m: float | None = Field(
        None, ge=0, le=100_000, allow_inf_nan=False, description="The device's stated accuracy of lon/lat (m)"
    )
    location_source: Literal["gps", "map", "manual", "desa_centroid", "address"] | None = Field(
        None,
        description="How the point was placed: device location, a map pick, typed, a desa centroid, or the address",
    )
    channel: str = Field("api", description="One of: " + ", ".join(CHANNELS))
    reporter: ReporterIn | None = None
    anonymous: bool = Field(False, description="anonim: the report is public, the reporter hidden")
    confidential: bool = Field(False, description="rahasia: the report itself is hidden from the public")
    attributes: dict[str, Any] = Field(default_factory=dict)
    client_ref: str | None = Field(
        None,
        max_length=200,
        description="Client's own id; a retry with the same value returns the first result",
    )
    external_id: str | None = Field(None, max_length=200)
    priority: str | None = Field(None, pattern=r"^P[1-4]$", description="Override of the service's priority")

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"kanal tidak dikenal; pilih dari {', '.join(CHANNELS)}")
        return value


class SubmitResult(BaseModel):
    """What a reporter gets back: the ticket to track, and whether this was a replay of an earlier call."""

    case_id: int
    ticket: str
    report_id: int
    status: str
    replayed: bool = False
    merged_into: str | None = None


class ReporterView(BaseModel):
    """A reporter's personal data, for roles allowed to see it."""

    name: str | None
    phone: str | None
    email: str | None
    nik: str | None


class ReportView(BaseModel):
    """One report of a case."""

    id: int
    channel: str
    description: str
    lon: float | None
    lat: float | None
    address: str | None
    received_at: datetime
    anonymous: bool
    attributes: dict[str, Any]
    media: list[Any]
    reporter: ReporterView | None = None


class EventView(BaseModel):
    """One entry of a case's timeline."""

    id: int
    seq: int
    type: str
    actor: str
    occurred_at: datetime
    payload: dict[str, Any]


class TaskView(BaseModel):
    """One task (disposisi) of a case."""

    id: int
    case_id: int
    step_id: str
    title: str
    agency_code: str
    unit_code: str | None
    status: str
    due_at: datetime | None
    created_at: datetime
    accepted_at: datetime | None
    completed_at: datetime | None


class CaseSummary(BaseModel):
    """A case in a list or on a map."""

    id: int
    ticket: str | None
    service_code: str
    priority: str
    status: str
    title: str
    lon: float | None
    lat: float | None
    region_code: str | None
    kecamatan_code: str | None
    agency_code: str | None
    channel: str
    confidential: bool
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None
    merged_into_id: int | None


class CaseDetail(CaseSummary):
    """A case with its reports, tasks and timeline, as far as the reader may see them."""

    description: str
    address: str | None
    reject_reason: str | None
    resolution: str | None
    verified_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reports: list[ReportView]
    tasks: list[TaskView]
    timeline: list[EventView]


class CasePage(BaseModel):
    """One page of a case list; pass `next_cursor` as `cursor` for the next page."""

    items: list[CaseSummary]
    next_cursor: str | None


class UnmergeIn(BaseModel):
    """Why a merge is undone (the duplicate was not one): required, kept in the case's log."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(..., min_length=5, max_length=2000)


class RejectIn(BaseModel):
    """Why a case is rejected (ditolak): required, shown to the reporter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(..., min_length=5, max_length=2000)


class MergeIn(BaseModel):
    """The surviving case this one is a duplicate of."""

    model_config = ConfigDict(extra="forbid")
    into_case_id: int = Field(..., ge=1, le=2**63 - 1)
    reason: str | None = Field(None, max_length=2000)


class AssignIn(BaseModel):
    """Dispose (disposisi) a case to an agency."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    agency_code: str
    note: str | None = Field(None, max_length=2000)
    due_hours: float | None = Field(None, gt=0, le=24 * 90)


class ResolveIn(BaseModel):
    """What was done; shown to the reporter."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    resolution: str = Field(..., min_length=3, max_length=5000)


class NoteIn(BaseModel):
    """A note on a case: internal (staff only) by default; `visibility: public` makes it a reply the public reads."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(..., min_length=1, max_length=5000)
    visibility: Literal["internal", "public"] = Field(
        "internal",
        description="internal: seen by staff only (default); public: a reply shown on the ticket and Open311",
    )


class TransitionIn(BaseModel):
    """An optional note that goes with a status change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: str | None = Field(None, max_length=2000)
