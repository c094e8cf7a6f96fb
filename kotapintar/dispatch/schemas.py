"""Request and response models of emergency dispatch (112 calls, units, AVL), shared by API and web."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CLASSIFICATIONS = ("genuine", "prank", "ghost", "info", "duplicate")
Classification = Literal["genuine", "prank", "ghost", "info", "duplicate"]


class CallIn(BaseModel):
    """A new call: the clock starts at `received_at` (default: now); the caller's number is personal data."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    caller_number: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$")
    received_at: datetime | None = Field(None, description="When the call rang (telephony); default now")
    answered: bool = Field(True, description="The call-taker picks it up now (console: yes)")
    client_key: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="Idempotency key of the call form: a retry with the same key answers the same call",
    )


class ClassifyIn(BaseModel):
    """What the call-taker found out: the classification and, for genuine calls, the incident."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    classification: Classification
    caller_number: str | None = Field(
        None, max_length=40, pattern=r"^\+?[0-9 ()-]{6,40}$", description="Typed after the call started"
    )
    service_code: str | None = Field(None, max_length=60, examples=["kebakaran"])
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    region_code: str | None = Field(None, max_length=20, description="Desa code when no point is known")
    location_text: str | None = Field(None, max_length=300)
    answers: dict[str, Any] = Field(default_factory=dict, description="Protocol card answers")
    description: str | None = Field(None, max_length=2000)
    duplicate_of: int | None = Field(None, description="Case id of the active incident this call repeats")


class CallView(BaseModel):
    """A call as the console sees it (caller number only for roles allowed to see personal data)."""

    id: int
    received_at: datetime
    answered_at: datetime | None
    classified_at: datetime | None
    caller_number: str | None
    lon: float | None
    lat: float | None
    location_text: str | None
    region_code: str | None
    service_code: str | None
    answers: dict[str, Any]
    priority: str | None
    classification: str | None
    case_id: int | None
    ticket: str | None = None


class DispatchIn(BaseModel):
    """Send units to a case: the recommended ones (default) or a chosen list with the reason for the change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    units: list[str] | None = Field(None, max_length=30)
    override_reason: str | None = Field(None, max_length=500)


class DispatchResult(BaseModel):
    """Which units were sent, and whether the dispatcher overrode the recommendation."""

    case_id: int
    units: list[str]
    recommended: list[str]
    overridden: bool
    method: str


class UnitStatusIn(BaseModel):
    """A status change of a unit (crew page, API, MQTT), with when and where it happened."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: str = Field(..., max_length=20, examples=["en_route"])
    at: datetime | None = None
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)


class UnitView(BaseModel):
    """A unit on the status board."""

    code: str
    name: str
    agency_code: str
    kind: str
    status: str
    status_label: str
    lon: float | None
    lat: float | None
    position_at: datetime | None
    base_name: str | None
    crew: int
    mutual_aid: bool
    case_id: int | None = None
    ticket: str | None = None


class AvlOutcome(BaseModel):
    """The fate of one position or status message: applied, or ignored / rejected with a reason."""

    accepted: bool
    unit: str | None
    reason: str | None = None
    message: str | None = None
