"""Smart-city indicators (issue 15, item 7) over a hand-built history whose figures are worked out here.

Months are local (WIB, UTC+7). Tasks (service, created UTC, due, completed):
  T1 lampu_jalan 2026-09-10 02:00, due +24 h, done +10 h  → September, on time
  T2 lampu_jalan 2026-09-11 02:00, due +24 h, done +30 h  → September, late
  T3 jalan_rusak 2026-09-12 02:00, due +4 h,  done +2 h   → September, on time
  T4 jalan_rusak 2026-09-30 18:00 (= 1 Oct 01:00 WIB), due +4 h, done +1 h → October, on time
  T5 jalan_rusak 2026-10-05 02:00, due +4 h,  done +5 h   → October, late
  T6 lampu_jalan 2026-10-06 02:00, pending                 → October, not completed (not counted)
  => complaints on time: September 2/3 = 66,7 % (target ≥ 80: not met), October 1/2 = 50,0 % (not met);
     street lights: September 1/2 = 50,0 %, October — (nothing completed).
112 incidents (seconds after the call; total = call → first unit on scene):
  I1 kebakaran 2026-09-15 03:00: answered 10, dispatched 40, en route 100, on scene 700   → total 700
  I2 kebakaran 2026-09-20 03:00: answered 10, dispatched 40, en route 100, on scene 1 300 → total 1 300
  I3 kebakaran 2026-10-03 03:00: answered 10, dispatched 40, en route 100, on scene 540   → total 540
  => median time to scene: September (700 + 1 300)/2 = 1 000 s = 16,7 menit (target ≤ 15: not met),
     October 540 s = 9,0 menit (met).
Sensor warnings (CAP messages, sent UTC):
  W1 banjir Alert 2026-09-05 10:00, its Update 12:00 and Cancel 2026-09-06 → one warning, September
  W2 banjir Alert 2026-09-30 20:00 (= 1 Oct 03:00 WIB)                    → October
  W3 karhutla Alert 2026-09-10 (not a flood), W4 banjir Alert 2026-09-12 status Exercise → not counted
  => flood warnings issued: August 0, September 1, October 1.
PM2.5 daily rollups (1d buckets start at local midnight, i.e. 17:00 UTC the day before):
  1 Sep WIB: S1 10, S2 12 → good; 2 Sep: S1 10, S2 20 → not (the worst station decides);
  3 Sep: S1 15,5 → not (15,5 is where 'sedang' starts); 1 Oct WIB (bucket 30 Sep 17:00 UTC): S1 5 → good;
  a pm10 day and an hourly pm25 bucket are ignored.
  => days of good air: August — (nothing measured), September 1, October 1.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from kotapintar.analytics.report import build_monthly, to_csv, to_pdf
from kotapintar.app.cli import app as cli_app
from kotapintar.app.web import create_app
from kotapintar.cases.models import Case, Task
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.settings import Settings, get_settings
from kotapintar.dispatch.models import UnitAssignment
from kotapintar.feedback import service as feedback_service
from kotapintar.indicators import registry
from kotapintar.indicators import service as indicators
from kotapintar.indicators.models import IndicatorValue
from kotapintar.sensors.models import SensorAlarm, SensorRollup, SensorWarning
from tests.analytics.surveys import add_surveys
from tests.helpers import actor
from tests.helpers import web_client as client

H = timedelta(hours=1)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def build(db: Database) -> None:
    """Write the tasks and incidents of the module docstring."""
    with db.transaction() as uow:
        s = uow.session

        def case_(service: str, at: datetime, agency: str, channel: str = "web") -> Case:
            c = Case(
                service_code=service,
                priority="P3",
                status="in_progress",
                title=f"Kasus {service}",
                description=service,
                channel=channel,
                agency_code=agency,
                kecamatan_code="62.03.01",
                created_at=at,
                updated_at=at,
            )
            s.add(c)
            s.flush()
            return c

        tasks: list[tuple[str, str, timedelta, timedelta | None]] = [
            ("lampu_jalan", "2026-09-10T02:00", 24 * H, 10 * H),
            ("lampu_jalan", "2026-09-11T02:00", 24 * H, 30 * H),
            ("jalan_rusak", "2026-09-12T02:00", 4 * H, 2 * H),
            ("jalan_rusak", "2026-09-30T18:00", 4 * H, 1 * H),
            ("jalan_rusak", "2026-10-05T02:00", 4 * H, 5 * H),
            ("lampu_jalan", "2026-10-06T02:00", 4 * H, None),
        ]
        for service, at_text, due, done in tasks:
            at = _at(at_text)
            c = case_(service, at, "pupr")
            s.add(
                Task(
                    case_id=c.id,
                    step_id="tangani",
                    title="Tangani",
                    agency_code="pupr",
                    status="pending" if done is None else "done",
                    created_at=at,
                    due_at=at + due,
                    accepted_at=None if done is None else at + H / 2,
                    completed_at=None if done is None else at + done,
                    data={},
                )
            )
        for at_text, on_scene in (
            ("2026-09-15T03:00", 700),
            ("2026-09-20T03:00", 1300),
            ("2026-10-03T03:00", 540),
        ):
            at = _at(at_text)
            c = case_("kebakaran", at, "damkar", "112")
            steps: list[tuple[float, str, dict[str, Any]]] = [
                (0, "call_received", {}),
                (10, "call_answered", {}),
                (40, "unit_dispatched", {"unit": "DMK-01"}),
                (100, "unit_en_route", {"unit": "DMK-01"}),
                (on_scene, "unit_on_scene", {"unit": "DMK-01"}),
            ]
            for i, (offset, type_, payload) in enumerate(steps):
                uow.events.append(
                    stream=case_stream(c.id),
                    case_id=c.id,
                    type=type_,
                    actor="test",
                    at=at + timedelta(seconds=offset),
                    payload=payload,
                    new_stream=i == 0,
                )
            s.add(
                UnitAssignment(
                    unit_code="DMK-01", case_id=c.id, kind="primary", dispatched_at=at, dispatched_by="test"
                )
            )
        _warnings(uow)
        _rollups(uow)


def _warnings(uow: Any) -> None:
    """W1–W4 of the module docstring."""
    s = uow.session
    messages = [
        (
            "banjir",
            [("Alert", "2026-09-05T10:00"), ("Update", "2026-09-05T12:00"), ("Cancel", "2026-09-06T00:00")],
            "Actual",
        ),
        ("banjir", [("Alert", "2026-09-30T20:00")], "Actual"),
        ("karhutla", [("Alert", "2026-09-10T00:00")], "Actual"),
        ("banjir", [("Alert", "2026-09-12T00:00")], "Exercise"),
    ]
    for n, (service, sent, status) in enumerate(messages):
        alarm = SensorAlarm(
            dedupe_key=f"k{n}",
            rule_id=f"r{n}",
            area_code="62.03.01",
            service_code=service,
            level="siaga",
            public=True,
            opened_at=_at(sent[0][1]),
            closed_at=_at(sent[0][1]) + H,
        )
        s.add(alarm)
        s.flush()
        for i, (msg_type, at) in enumerate(sent):
            s.add(
                SensorWarning(
                    alarm_id=alarm.id,
                    identifier=f"w{n}-{i}",
                    sender="test",
                    sent=_at(at),
                    status=status,
                    msg_type=msg_type,
                    area_code="62.03.01",
                    level="siaga",
                    cap_references=[],
                    headline="Banjir",
                    current=i == len(sent) - 1,
                    xml="<alert/>",
                )
            )


def _rollups(uow: Any) -> None:
    """The daily PM2.5 rollups of the module docstring."""
    rows = [
        ("S1", "pm25", "1d", "2026-08-31T17:00", 10.0),
        ("S2", "pm25", "1d", "2026-08-31T17:00", 12.0),
        ("S1", "pm25", "1d", "2026-09-01T17:00", 10.0),
        ("S2", "pm25", "1d", "2026-09-01T17:00", 20.0),
        ("S1", "pm25", "1d", "2026-09-02T17:00", 15.5),
        ("S1", "pm25", "1d", "2026-09-30T17:00", 5.0),
        ("S1", "pm10", "1d", "2026-09-03T17:00", 5.0),
        ("S1", "pm25", "1h", "2026-09-05T03:00", 3.0),
    ]
    for device, attribute, resolution, start, mean in rows:
        uow.session.add(
            SensorRollup(
                device_id=device,
                attribute=attribute,
                resolution=resolution,
                bucket_start=_at(start),
                count=24,
                min=mean,
                max=mean,
                total=mean * 24,
                mean=mean,
            )
        )


def _values(grouped: dict[str, list[indicators.Series]], code: str) -> dict[str, Any]:
    found = next(s for items in grouped.values() for s in items if s.indicator.code == code)
    return {p.period: (None if p.value is None else round(p.value, 4), p.met) for p in found.points}


def test_computed_indicators_per_month(db: Database, settings: Settings) -> None:
    """Time to scene and on-time shares per local month, with whether each meets its target."""
    build(db)
    grouped = indicators.series(db, actor(db, "supervisor"), "2026-10", 3, settings=settings)
    assert _values(grouped, "darurat_waktu_tiba_median") == {
        "2026-08": (None, None),
        "2026-09": (round(1000 / 60, 4), False),
        "2026-10": (9.0, True),
    }
    assert _values(grouped, "pengaduan_tepat_waktu") == {
        "2026-08": (None, None),
        "2026-09": (round(200 / 3, 4), False),
        "2026-10": (50.0, False),
    }
    assert _values(grouped, "lampu_jalan_tepat_waktu") == {
        "2026-08": (None, None),
        "2026-09": (50.0, False),
        "2026-10": (None, None),
    }
    assert _values(grouped, "peringatan_banjir") == {
        "2026-08": (0.0, None),
        "2026-09": (1.0, None),
        "2026-10": (1.0, None),
    }
    assert _values(grouped, "hari_udara_baik") == {
        "2026-08": (None, None),
        "2026-09": (1.0, None),
        "2026-10": (1.0, None),
    }
    assert [s.indicator.code for s in grouped["kehidupan"]] == [
        "darurat_waktu_tiba_median",
        "akses_air_minum",
    ]


GOOD = 'code,period,value\npertumbuhan_ekonomi,2026-09,5.2\npengangguran_terbuka,2026-09,"4,8"\npertumbuhan_ekonomi,2026-10,4.9\n'
BAD = (
    "code,period,value\npertumbuhan_ekonomi,2026-09,5.2\nbukan_indikator,2026-09,1\n"
    "pengaduan_tepat_waktu,2026-09,90\npengangguran_terbuka,2026-13,4\nrth_publik,2026-09,banyak\n"
)


def _stored(db: Database) -> list[tuple[str, str, float]]:
    with db.reading() as uow:
        rows = uow.session.query(IndicatorValue).order_by(IndicatorValue.code, IndicatorValue.period).all()
        return [(r.code, r.period, r.value) for r in rows]


def test_csv_import_good_file_and_all_or_none(db: Database, settings: Settings) -> None:
    """A good file stores every line (re-importing replaces); a bad one names each bad line and stores nothing."""
    supervisor = actor(db, "supervisor")
    with pytest.raises(ValidationFailed) as bad:
        indicators.import_csv(db, supervisor, BAD, "bad.csv")
    message = str(bad.value)
    assert "Baris 3: indikator 'bukan_indikator' tidak ada" in message
    assert "Baris 4: indikator 'pengaduan_tepat_waktu' dihitung" in message
    assert "Baris 5: periode '2026-13'" in message
    assert "Baris 6: nilai 'banyak' bukan angka" in message
    assert "Baris 2" not in message
    assert _stored(db) == []  # line 2 was good, yet nothing is stored
    assert indicators.import_csv(db, supervisor, GOOD, "bps.csv") == 3
    assert (
        indicators.import_csv(db, supervisor, "code,period,value\npertumbuhan_ekonomi,2026-10,5.1\n", "x.csv")
        == 1
    )
    assert _stored(db) == [
        ("pengangguran_terbuka", "2026-09", 4.8),
        ("pertumbuhan_ekonomi", "2026-09", 5.2),
        ("pertumbuhan_ekonomi", "2026-10", 5.1),
    ]
    grouped = indicators.series(db, supervisor, "2026-10", 2, settings=settings)
    assert _values(grouped, "pertumbuhan_ekonomi") == {"2026-09": (5.2, True), "2026-10": (5.1, True)}
    assert _values(grouped, "pengangguran_terbuka") == {"2026-09": (4.8, True), "2026-10": (None, None)}


def test_cli_import_names_the_line(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kotapintar indicators import FILE.csv`: exit 2 and the line on a bad file, nothing stored; then a good one."""
    monkeypatch.setenv("KOTAPINTAR_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
        bad.write_text(BAD, encoding="utf-8")
        good.write_text(GOOD, encoding="utf-8")
        runner = CliRunner()
        out = runner.invoke(cli_app, ["indicators", "import", str(bad)])
        assert out.exit_code == 2 and "Baris 3" in out.output
        assert _stored(db) == []
        out = runner.invoke(cli_app, ["indicators", "import", str(good)])
        assert out.exit_code == 0, out.output
        assert "3 nilai indikator disimpan" in out.output
    finally:
        get_settings.cache_clear()
    assert len(_stored(db)) == 3


def _row(html: str, code: str, period: str) -> dict[str, str]:
    article = html[html.index(f'data-indicator="{code}"') :]
    article = article[: article.index("</article>")]
    row = article[article.index(f'data-period="{period}"') :]
    row = row[: row.index("</tr>")]
    return dict(re.findall(r'data-fig="([a-z_]+)">(.*?)</td>', row))


def test_page_shows_each_dimension_value_trend_and_target(db: Database, settings: Settings) -> None:
    """/indikator: six sections, the figures in Indonesian format, the chart and whether the target is met."""
    build(db)
    indicators.import_csv(db, actor(db, "supervisor"), GOOD, "bps.csv")
    app = create_app(settings, db=db)
    page = client(app, "supervisor").get("/indikator?bulan=2026-10&n=6")
    assert page.status_code == 200
    html = page.text
    for dim in ("masyarakat", "lingkungan", "prasarana", "ekonomi", "mobilitas", "kehidupan"):
        assert f'data-dimension="{dim}"' in html
    assert _row(html, "darurat_waktu_tiba_median", "2026-09") == {"value": "16,7 menit", "met": "Tidak"}
    assert _row(html, "darurat_waktu_tiba_median", "2026-10") == {"value": "9,0 menit", "met": "Ya"}
    assert _row(html, "pengaduan_tepat_waktu", "2026-09") == {"value": "66,7 %", "met": "Tidak"}
    assert _row(html, "peringatan_banjir", "2026-10") == {"value": "1 peringatan", "met": "—"}
    assert _row(html, "hari_udara_baik", "2026-09") == {"value": "1 hari", "met": "—"}
    assert _row(html, "hari_udara_baik", "2026-08") == {"value": "—", "met": "—"}
    assert _row(html, "lampu_jalan_tepat_waktu", "2026-10") == {"value": "—", "met": "—"}
    assert _row(html, "pengangguran_terbuka", "2026-09") == {"value": "4,8 %", "met": "Ya"}
    assert "paling tinggi 15,0 menit" in html  # the target of time to scene
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 13  # one trend per indicator
    assert client(app, "supervisor").get("/indikator?bulan=2026-1x").status_code == 422
    assert client(app, "operator").get("/indikator").status_code == 403


def test_monthly_report_carries_the_indicators(db: Database) -> None:
    """The city-wide monthly report has an `indikator` table with the month's values (CSV and PDF)."""
    build(db)
    indicators.import_csv(db, actor(db, "supervisor"), GOOD, "bps.csv")
    report = build_monthly(db, actor(db, "supervisor"), "2026-09")
    rows = list(csv.reader(io.StringIO(to_csv(report)["indikator.csv"])))
    assert rows[0] == ["Dimensi", "Indikator", "Nilai", "Target", "Tercapai"]
    by_name = {r[1]: r[2:] for r in rows[1:]}
    assert by_name["Median waktu tiba darurat 112"] == ["16,7 menit", "paling tinggi 15,0 menit", "Tidak"]
    assert by_name["Pengaduan selesai tepat waktu"] == ["66,7 %", "paling rendah 80,0 %", "Tidak"]
    assert by_name["Peringatan dini banjir diterbitkan"] == ["1 peringatan", "—", "—"]
    assert by_name["Tingkat pengangguran terbuka"] == ["4,8 %", "paling tinggi 5,0 %", "Ya"]
    assert len(rows) == 14  # header and the 13 indicators of the registry
    assert to_pdf(report).startswith(b"%PDF")
    agency_report = build_monthly(db, actor(db, "supervisor"), "2026-09", "pupr")
    assert "indikator.csv" not in to_csv(agency_report)  # city-wide figures only in the city's report


def test_registry_is_checked_when_loaded(tmp_path: Path) -> None:
    """Every computed indicator names a known function; a bad entry fails naming the indicator."""
    assert all(i.compute in indicators.COMPUTERS for i in registry.indicators() if i.kind == "computed")
    assert {i.dimension for i in registry.indicators()} == set(registry.DIMENSIONS)
    bad = tmp_path / "indicators.yaml"
    bad.write_text(
        "indicators:\n  - {code: x, dimension: pariwisata, kind: imported, name: {id: X}, definition: {id: X}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"indicators\.yaml x: dimension must be one of"):
        registry.indicators(bad)


def test_ikm_indicator_is_the_supervisors_combined_ikm(db: Database, settings: Settings) -> None:
    """`ikm_pelayanan` is computed from the citizens' SKM answers of the month (the four respondents of
    tests/analytics/surveys.py: IKM 82,18, grade B), the same figure /supervisor shows for all agencies;
    a month without answers has no value, and the target (76,61, the B band) is met."""
    build(db)
    with db.reading() as uow:
        pupr = uow.session.scalars(select(Case.id).where(Case.agency_code == "pupr").order_by(Case.id)).all()
    add_surveys(db, list(pupr[:4]), _at("2026-09-20T03:00"))
    grouped = indicators.series(db, actor(db, "supervisor"), "2026-10", 3, settings=settings)
    shown = feedback_service.ikm_table(db, "all")["all"]
    assert shown.rounded == Decimal("82.18")
    assert _values(grouped, "ikm_pelayanan") == {
        "2026-08": (None, None),
        "2026-09": (round(float(shown.ikm or 0), 4), True),
        "2026-10": (None, None),
    }
    html = client(create_app(settings, db=db), "supervisor").get("/indikator?bulan=2026-10&n=3").text
    assert _row(html, "ikm_pelayanan", "2026-09")["value"] == "82,18 indeks"
    assert _row(html, "ikm_pelayanan", "2026-10")["value"] == "—"
