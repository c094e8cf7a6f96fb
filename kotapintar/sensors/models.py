"""Tables of the integrated city data: devices, observations, rollups, rejections, rule states, warnings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.cases import models as _cases_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.core.db.base import Base, BigId
from kotapintar.core.db.types import JSONType


class SensorDevice(Base):
    """A registered device: where it is, who owns it, how to check its data and the hash of its API key."""

    __tablename__ = "sensor_devices"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    region_code: Mapped[str] = mapped_column(String(20), index=True)
    owner_agency: Mapped[str] = mapped_column(String(40))
    interval_s: Mapped[int] = mapped_column(Integer)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # the full validated Device
    api_key_hash: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SensorObservation(Base):
    """One stored reading (canonical unit) with its quality flags (bitmask, 0 = clean)."""

    __tablename__ = "sensor_observations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(128))
    attribute: Mapped[str] = mapped_column(String(40))
    observed_at: Mapped[datetime]
    received_at: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)
    flags: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        # One value per device, attribute and instant (a re-send is a duplicate, not a new row). The one
        # index serves series ranges, the latest value per device (max observed_at) and retention per series;
        # every further index would roughly halve the insert rate.
        Index("ix_sensor_obs_series", "device_id", "attribute", "observed_at", unique=True),
    )


class SensorRollup(Base):
    """Aggregates per device, attribute, resolution (1m/1h/1d) and bucket: count, min, max, mean, total."""

    __tablename__ = "sensor_rollups"

    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(40), primary_key=True)
    resolution: Mapped[str] = mapped_column(String(4), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)


class SensorRejection(Base):
    """Counts of rejected messages per claimed device (or '-') and reason; never the data itself."""

    __tablename__ = "sensor_rejections"

    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime]
    last_message: Mapped[str | None] = mapped_column(String(300))


class SensorRuleState(Base):
    """The JSON state of one rule (all its areas), versioned, as the pure evaluator returns it."""

    __tablename__ = "sensor_rule_states"

    rule_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime]


class SensorAlarm(Base):
    """A rule group firing in an area: at most one open per dedupe key, linked to the case it opened."""

    __tablename__ = "sensor_alarms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), index=True)
    rule_id: Mapped[str] = mapped_column(String(80))
    area_code: Mapped[str] = mapped_column(String(20), index=True)
    service_code: Mapped[str] = mapped_column(String(60))
    level: Mapped[str | None] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # What the case is opened with (service, priority, level, title, readings) while a case opener has not
    # opened it yet; null once the case exists. Rules fire inside ingest; cases open right after, off it.
    pending_case: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    __table_args__ = (
        Index(
            "uq_sensor_alarms_open_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )


class SensorWarning(Base):
    """One CAP 1.2 message sent for an alarm (Alert, Update or Cancel), with the XML as published."""

    __tablename__ = "sensor_warnings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("sensor_alarms.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(200), unique=True)
    sender: Mapped[str] = mapped_column(String(200))
    sent: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20))
    msg_type: Mapped[str] = mapped_column(String(20))
    area_code: Mapped[str] = mapped_column(String(20))
    level: Mapped[str | None] = mapped_column(String(40))
    cap_references: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    headline: Mapped[str] = mapped_column(String(300))
    current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)  # newest message of its alarm
    xml: Mapped[str] = mapped_column(Text)
