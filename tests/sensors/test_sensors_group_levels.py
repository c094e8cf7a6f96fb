"""Rules of one group share one alarm per area: when a second rule of the group fires at a higher level than the
one that opened the alarm (the river first rose fast — waspada — then reached siaga), the alarm, its case and the
public warning rise to that level; a rule of the group going down never lowers the alarm below another rule of
the group that still holds the area at a higher level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kotapintar.cases.repository import CaseRepository
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import alarms as sensor_alarms
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors import warnings as sensor_warnings
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.repository import SensorRepository

GAUGE = "KPS-AWLR-01"  # Kuala Kapuas, area 62.03.01: waspada 2.3 m, siaga 2.7 m, awas 3.1 m
KEY = "banjir-sungai:62.03.01"


def gauge(start: datetime, values: list[float]) -> list[Reading]:
    return [
        Reading(start + timedelta(minutes=10 * i), GAUGE, "waterLevel", v, "m") for i, v in enumerate(values)
    ]


def alarm_of(db: Database) -> tuple[str | None, str, int | None, dict[str, object] | None]:
    with db.reading() as uow:
        alarm = SensorRepository(uow.session).open_alarm(KEY)
        assert alarm is not None
        return alarm.level, alarm.rule_id, alarm.case_id, alarm.pending_case


def warning_levels(db: Database) -> list[tuple[str, str | None]]:
    return [
        (w["msg_type"], w["level"])
        for w in sensor_warnings.active_warnings(db)
        if w["area_code"] == "62.03.01"
    ]


@pytest.mark.parametrize("case_opened_between", [True, False], ids=["case-open", "case-pending"])
def test_a_higher_level_from_another_rule_of_the_group_raises_the_alarm(
    db: Database, settings: Settings, case_opened_between: bool
) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(hours=4)
    # 1. The river rises 60 cm/h but stays under waspada: only the rate-of-rise rule fires (waspada).
    first = gauge(start, [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0])
    sensor_ingest.ingest_readings(
        db, first, received_at=first[-1].observed_at, settings=settings, open_cases=case_opened_between
    )
    level, rule_id, case_id, _ = alarm_of(db)
    assert (level, rule_id) == ("waspada", "banjir-kenaikan-cepat")
    assert (case_id is not None) is case_opened_between

    # 2. It goes on to siaga: the threshold rule of the same group fires at siaga.
    second = gauge(first[-1].observed_at + timedelta(minutes=10), [2.2, 2.4, 2.6, 2.8])
    sensor_ingest.ingest_readings(
        db, second, received_at=second[-1].observed_at, settings=settings, open_cases=False
    )
    level, rule_id, case_id, pending = alarm_of(db)
    assert level == "siaga"
    assert rule_id == "banjir-tma-siaga"  # the public warning now speaks of the threshold, not the rise
    assert warning_levels(db)[0] == ("Update", "siaga")
    if case_id is not None:
        with db.reading() as uow:
            changes = [e.payload for e in uow.events.for_case(case_id) if e.type == "sensor_level_changed"]
        assert [(c["old_level"], c["level"], c["priority"]) for c in changes] == [("waspada", "siaga", "P2")]
    else:
        assert pending is not None and (pending["level"], pending["rule_id"]) == ("siaga", "banjir-tma-siaga")
        (opened,) = sensor_alarms.open_pending_cases(db, settings=settings)
        with db.reading() as uow:
            case = uow.repo(CaseRepository).get(opened)
            assert case is not None and case.priority == "P2"

    # 3. The rise slows (the rate rule ends after its hour) while the river stays at siaga: still siaga.
    third = gauge(second[-1].observed_at + timedelta(minutes=10), [2.8] * 12)
    sensor_ingest.ingest_readings(db, third, received_at=third[-1].observed_at, settings=settings)
    assert alarm_of(db)[0] == "siaga"
