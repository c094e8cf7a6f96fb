"""Demo devices, default levels and the seeded simulator: plausible, deterministic, and driving the rules."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kotapintar.sensors.engine.kinds import DeviceKind
from kotapintar.sensors.engine.levels import load_catalog
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.quality import flag_series, summary
from kotapintar.sensors.engine.registry import load_devices
from kotapintar.sensors.engine.rules import OpenCase, evaluate_all, load_rules
from kotapintar.sensors.engine.simulator import (
    Fault,
    FloodEvent,
    HazeEvent,
    Scenario,
    Simulator,
    default_scenario,
    simulate,
)

DEVICES = load_devices()
BY_ID = {d.id: d for d in DEVICES}
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
JAN = datetime(2026, 1, 10, tzinfo=UTC)


def test_demo_devices_cover_the_issue() -> None:
    kinds = {d.kind for d in DEVICES}
    assert {DeviceKind.WATER_LEVEL, DeviceKind.RAIN_GAUGE, DeviceKind.AIR_QUALITY} <= kinds
    rivers = {d.river for d in DEVICES if d.kind == DeviceKind.WATER_LEVEL}
    assert rivers == {"Kapuas", "Kapuas Murung"}
    assert all(d.region.startswith("62.03.") and 1 <= int(d.region[-2:]) <= 17 for d in DEVICES)
    assert all(d.owner_agency in {"bpbd", "dlh"} for d in DEVICES)
    catalog = load_catalog()
    flood = catalog.level_set("flood")
    for d in DEVICES:
        if d.kind == DeviceKind.WATER_LEVEL:
            assert set(flood.thresholds(d)) == {"waspada", "siaga", "awas"}, d.id


def test_demo_devices_lie_inside_their_kecamatan() -> None:
    path = SHARED / "wilayah" / "kalteng_kecamatan_62.geojson"
    if not path.exists():
        pytest.skip("../shared/data absent: kecamatan boundaries of Kalimantan Tengah not available")
    from shapely.geometry import Point, shape

    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    shapes = {f["properties"]["kode"]: shape(f["geometry"]) for f in features}
    for d in DEVICES:
        assert shapes[d.region].contains(Point(d.lon, d.lat)), f"{d.id} is not inside {d.region}"


def test_ispu_breakpoints_and_bands() -> None:
    cat = load_catalog()
    assert cat.ispu("pm25", 15.5) == 50
    assert cat.ispu("pm25", 55.4) == 100
    assert cat.ispu("pm25", 250.4) == 300
    assert cat.ispu("pm10", 150) == 100
    assert cat.ispu("pm25", 900) == 500
    assert [cat.ispu_band(i) for i in (0, 50, 51, 150, 250, 301)] == [
        "baik",
        "baik",
        "sedang",
        "tidak_sehat",
        "sangat_tidak_sehat",
        "berbahaya",
    ]
    labels = [lv.label[0] for lv in cat.level_set("ispu_pm25").levels]
    assert labels == ["Baik", "Sedang", "Tidak Sehat", "Sangat Tidak Sehat", "Berbahaya"]
    assert cat.level_set("flood").codes() == ("normal", "waspada", "siaga", "awas")


def test_simulator_is_deterministic_and_range_consistent() -> None:
    scen = Scenario(floods=(FloodEvent(start=JAN),))
    whole = simulate(DEVICES, JAN, JAN + timedelta(hours=6), seed=7, scenario=scen)
    split = simulate(DEVICES, JAN, JAN + timedelta(hours=2), seed=7, scenario=scen) + simulate(
        DEVICES, JAN + timedelta(hours=2), JAN + timedelta(hours=6), seed=7, scenario=scen
    )
    assert whole == split
    assert simulate(DEVICES, JAN, JAN + timedelta(hours=6), seed=8, scenario=scen) != whole
    # Air-quality stations simulate PM2.5 and PM10 only (their temperature and humidity are not simulated).
    simulated = {d.id: 2 if d.kind == DeviceKind.AIR_QUALITY else len(d.attributes) for d in DEVICES}
    assert len(whole) == 36 * sum(simulated.values())
    assert all(a.observed_at <= b.observed_at for a, b in itertools.pairwise(whole))


def test_quiet_days_are_plausible_and_clean() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    readings = simulate(DEVICES, start, start + timedelta(days=2), seed=3, scenario=Scenario())
    series: dict[tuple[str, str], list[Reading]] = defaultdict(list)
    for r in readings:
        series[(r.device_id, r.attribute)].append(r)
    flagged_total = 0
    for (device_id, attribute), items in series.items():
        device = BY_ID[device_id]
        flagged = flag_series(items, device.quality_config(attribute))
        s = summary(flagged, device.interval, (start, start + timedelta(days=2)))
        assert s.completeness_pct == 100.0
        flagged_total += s.flagged
    assert flagged_total == 0
    kuala = [r.value for r in series[("KPS-AWLR-01", "waterLevel")]]
    assert min(kuala) > 0.5 and max(kuala) < 2.3  # tide, below waspada
    assert max(kuala) - min(kuala) > 0.5  # the tide is visible
    pm = [r.value for r in series[("KPS-AQ-01", "pm25")]]
    assert min(pm) > 5 and max(pm) < 60


def test_flood_and_haze_events_drive_the_default_rules() -> None:
    scen = Scenario(
        floods=(FloodEvent(start=JAN + timedelta(hours=6), river="Kapuas"),),
        hazes=(HazeEvent(start=JAN, duration_hours=48, peak_pm25=350),),
    )
    end = JAN + timedelta(days=3)
    readings = simulate(DEVICES, JAN, end, seed=1, scenario=scen)
    _, actions = evaluate_all(load_rules(), {}, readings, now=end, devices=BY_ID)
    opened = {(a.rule_id, a.area) for a in actions if isinstance(a, OpenCase)}
    assert ("banjir-tma-siaga", "62.03.10") in opened  # Timpah, upstream Kapuas
    assert ("banjir-tma-siaga", "62.03.01") in opened  # Kuala Kapuas, a day and a half later
    assert ("karhutla-pm25-berbahaya", "62.03.01") in opened
    assert not any(area in ("62.03.16", "62.03.07") for rule, area in opened if rule.startswith("banjir"))
    # the stale rule stays quiet: every critical gauge reports
    assert not any(rule == "pos-duga-air-kritis-mati" for rule, _ in opened)


def test_faults_make_flags_and_silence() -> None:
    dev = BY_ID["KPS-AWLR-02"]
    scen = Scenario(
        faults=(
            Fault(dev.id, "spike", JAN + timedelta(hours=1), JAN + timedelta(hours=2), size=4.0),
            Fault(dev.id, "offline", JAN + timedelta(hours=3), JAN + timedelta(hours=5)),
            Fault(dev.id, "stuck", JAN + timedelta(hours=6), JAN + timedelta(hours=14)),
        )
    )
    readings = list(Simulator([dev], seed=1, scenario=scen).readings(JAN, JAN + timedelta(hours=14)))
    flagged = flag_series(readings, dev.quality_config("waterLevel"))
    flags = {f.reading.observed_at: {x.value for x in f.flags} for f in flagged}
    assert flags[JAN + timedelta(hours=1)] == {"spike"}
    assert flags[JAN + timedelta(hours=5)] == {"gap"}
    assert "stuck" in flags[JAN + timedelta(hours=12)]
    assert not any(JAN + timedelta(hours=3) <= r.observed_at < JAN + timedelta(hours=5) for r in readings)


def test_default_scenario_has_wet_season_floods_and_dry_season_haze() -> None:
    scen = default_scenario(datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), seed=0)
    assert scen.floods and scen.hazes
    assert all(f.start.month in (11, 12, 1, 2, 3, 4, 5) for f in scen.floods)
    assert all(h.start.month in (8, 9, 10, 11) for h in scen.hazes)
    assert scen == default_scenario(
        datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), seed=0
    )
