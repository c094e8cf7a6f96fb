"""The set-up wizard in a real browser: an admin uploads the city's files and sees what was loaded or
exactly which lines are wrong (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kotapintar.app.web import create_app
from kotapintar.core.db.database import Database
from kotapintar.core.settings import get_settings
from tests.admin.test_setup_palangka_raya import PASSWORD, run, write_city_files
from tests.conftest import LiveServer, launch_chromium, shared_data


def test_wizard_sets_up_kecamatan_units_and_users_from_uploads(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend != "sqlite":
        pytest.skip("the browser run once (SQLite); the same set-up code runs on PostgreSQL in the CLI test")
    empty_url = request.getfixturevalue("empty_url")
    files = write_city_files(tmp_path)
    admin_only = tmp_path / "admin.csv"
    admin_only.write_text(
        f"username,full_name,agency,roles,password\nadmin.pky,Admin,diskominfo,admin,{PASSWORD}\n",
        encoding="utf-8",
    )
    # The first admin comes from the command line (the boundary and agencies with it); the rest from the browser.
    first = run(
        "setup",
        "--kabupaten",
        "62.71",
        "--regions",
        str(shared_data("wilayah", "kalteng_kabupaten_62.geojson")),
        "--agencies",
        str(files["agencies"]),
        "--users",
        str(admin_only),
    )
    assert first.exit_code == 0, first.output
    db = Database(empty_url)
    server = LiveServer(create_app(get_settings(), db=db))
    server.start()
    browser_gen = launch_chromium()
    browser = next(browser_gen)
    try:
        page = browser.new_page()
        page.goto(f"{server.url}/masuk?next=/admin/siapkan")
        page.fill("input[name=username]", "admin.pky")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/siapkan")
        # A unit of an unknown agency: refused, the line named, nothing loaded.
        bad_units = tmp_path / "unit_salah.csv"
        bad_units.write_text(
            "code,name,agency,kind,base_lon,base_lat\nPKY-1,Regu,damkarr,fire_truck,113.92,-2.21\n",
            encoding="utf-8",
        )
        page.set_input_files(
            "input[name=regions]", str(shared_data("wilayah", "kalteng_kecamatan_62.geojson"))
        )
        page.set_input_files("input[name=units]", str(bad_units))
        page.click("form[action='/admin/siapkan'] button[type=submit]")
        problems = page.locator("#setup-problems").inner_text()
        assert "unit_salah.csv:2: agency: instansi 'damkarr' tidak dikenal" in problems
        # The right files: kecamatan, units and users, in one go.
        page.set_input_files(
            "input[name=regions]", str(shared_data("wilayah", "kalteng_kecamatan_62.geojson"))
        )
        page.set_input_files("input[name=units]", str(files["units"]))
        page.set_input_files("input[name=users]", str(files["users"]))
        page.click("form[action='/admin/siapkan'] button[type=submit]")
        report = page.locator("#setup-report").inner_text()
        assert "5 kecamatan" in report and "unit 1" in report
        page.goto(f"{server.url}/admin/unit")
        assert "PKY-DMK-01" in page.content()
    finally:
        for _ in browser_gen:
            pass
        server.stop()
        db.dispose()
