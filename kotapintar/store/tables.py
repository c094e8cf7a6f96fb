"""SQLAlchemy 2 tables of Kotapintar: the single description of what is stored and how it relates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kotapintar.store.types import JSONType, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention, so migrations name things predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class Region(Base):
    """An administrative area (province, kabupaten/kota, kecamatan, desa/kelurahan) with its boundary."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20), index=True)
    parent_code: Mapped[str | None] = mapped_column(String(20), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    label_lon: Mapped[float | None] = mapped_column(Float)
    label_lat: Mapped[float | None] = mapped_column(Float)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(300))


class Agency(Base):
    """Who acts on a case: an OPD of the pemda or an external body, with its jurisdiction."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    short: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))  # internal | external
    command_center: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_code: Mapped[str | None] = mapped_column(String(40))
    jurisdiction: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))


class Service(Base):
    """A kind of problem citizens can report (Open311 service) and how it is handled by default."""

    __tablename__ = "services"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(2))
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    informed: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    keywords: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    dedupe: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    attributes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    """A person who logs in: belongs to one agency, holds roles."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    roles: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    position: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token issued to a user for API calls; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiKey(Base):
    """A key of a client application (e.g. an Open311 client); only its hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Reporter(Base):
    """Personal data of a reporter, kept apart from report text; shown only to roles allowed to see it."""

    __tablename__ = "reporters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    nik: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Case(Base):
    """One incident: the unit of work that reports merge into and the SOP drives."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket: Mapped[str | None] = mapped_column(String(40), unique=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"), index=True)
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    h3_cell: Mapped[str | None] = mapped_column(String(16), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    region_code: Mapped[str | None] = mapped_column(String(20), index=True)
    kecamatan_code: Mapped[str | None] = mapped_column(String(20), index=True)
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_cases_status_priority_created", "status", "priority", "created_at"),
        Index("ix_cases_lon_lat", "lon", "lat"),
    )


class Report(Base):
    """One submission from one channel, as received; points at the case it belongs to."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    description: Mapped[str] = mapped_column(Text)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(20))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("reporters.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    media: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    received_at: Mapped[datetime]


class Task(Base):
    """One SOP step of one case, assigned to one agency (and optionally a unit), with a due time."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step_id: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(300))
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    unit_code: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # SOP runtime (issue 3): the engine's key of the task within its case, and the position it is for.
    task_key: Mapped[str | None] = mapped_column(String(200), index=True)
    position: Mapped[str | None] = mapped_column(String(40))


class Unit(Base):
    """A response resource (ambulance, fire truck, patrol car, team) with its status and position."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), default="available")
    base_name: Mapped[str | None] = mapped_column(String(200))
    base_lon: Mapped[float | None] = mapped_column(Float)
    base_lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    crew: Mapped[int] = mapped_column(Integer, default=0)
    capabilities: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    mutual_aid: Mapped[bool] = mapped_column(Boolean, default=False)
    position_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class EventStream(Base):
    """The anchor of one hash chain: its last sequence number and hash, locked while appending."""

    __tablename__ = "event_streams"

    stream: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class Event(Base):
    """One append-only entry of a log (a case's, a unit's or the system's), linked in a hash chain.

    `id` orders all events globally: it is the cursor the outbox readers (SSE, notifications,
    webhooks) tail, and only committed rows are ever visible to them.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stream: Mapped[str] = mapped_column(String(80))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("stream", "seq", name="uq_events_stream_seq"),)


class Timer(Base):
    """A thing to do at a due time (SLA due, reminder, escalation), claimed by a scheduler loop."""

    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    due_at: Mapped[datetime] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
    # SOP runtime (issue 3): failed firings so far (a failing timer is retried later, not lost).
    attempts: Mapped[int] = mapped_column(Integer, default=0)


# Tables of the other parts live in their own modules (tables_<area>.py) next to this one; they are imported
# here so that `Base.metadata` (migrations, tests) always knows every table.
from kotapintar.store import (  # noqa: E402
    tables_channels,  # noqa: F401
    tables_dispatch,  # noqa: F401
    tables_sensors,  # noqa: F401
    tables_sop,  # noqa: F401
    tables_triage,  # noqa: F401
)
