"""Vendored and own static assets: served with the right types, licensed, offline, small, CSP-clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kotapintar.core.http.templating import STATIC_DIR, TEMPLATES_DIR, mount_static

ROOT = Path(__file__).resolve().parents[2]
VENDOR = STATIC_DIR / "vendor"
URL = re.compile(r"https?://[^\s\"'()<>]+")

# URLs that appear in vendored files but never make the browser fetch anything.
HARMLESS_VENDOR_URLS = {
    "http://www.w3.org/2000/svg",  # SVG namespace
    "https://leafletjs.com",  # comment header / attribution link text (map.js replaces the prefix)
    "https://bugs.chromium.org/p/chromium/issues/detail?id=600120",  # CSS comment
    "https://bugzilla.mozilla.org/show_bug.cgi?id=888319",  # CSS comment
}

VENDORED = {
    "vendor/leaflet/leaflet.js": "text/javascript",
    "vendor/leaflet/leaflet.css": "text/css",
    "vendor/leaflet/images/marker-icon.png": "image/png",
    "vendor/leaflet/images/layers.png": "image/png",
    "vendor/leaflet.markercluster/leaflet.markercluster.js": "text/javascript",
    "vendor/leaflet.markercluster/MarkerCluster.css": "text/css",
    "vendor/htmx/htmx.min.js": "text/javascript",
    "vendor/htmx-ext-sse/sse.min.js": "text/javascript",
    "css/kotapintar.css": "text/css",
    "js/map.js": "text/javascript",
    "js/live.js": "text/javascript",
    "img/favicon.svg": "image/svg+xml",
}


def _own_files() -> list[Path]:
    own = [p for p in STATIC_DIR.rglob("*") if p.is_file() and VENDOR not in p.parents]
    own += [p for p in TEMPLATES_DIR.rglob("*.html")]
    # The checks below loop over these files: finding none (folders moved) must fail, not pass vacuously.
    assert len(own) > 20, f"own web files not found under {STATIC_DIR} and {TEMPLATES_DIR}"
    return own


def _vendored(pattern: str) -> list[Path]:
    found = sorted(VENDOR.rglob(pattern))
    assert found, f"no vendored {pattern} under {VENDOR}"
    return found


def _strip_comments(text: str, suffix: str) -> str:
    if suffix in {".js", ".css"}:
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    if suffix == ".html":
        text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
        text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return text


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    mount_static(app)
    return TestClient(app)


@pytest.mark.parametrize(("path", "content_type"), sorted(VENDORED.items()))
def test_assets_are_served_with_the_right_content_type(
    client: TestClient, path: str, content_type: str
) -> None:
    response = client.get(f"/static/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert response.content == (STATIC_DIR / path).read_bytes()


def test_versioned_urls_are_cached_long_and_plain_ones_revalidate(client: TestClient) -> None:
    assert "immutable" in client.get("/static/css/kotapintar.css?v=abc").headers["cache-control"]
    assert client.get("/static/css/kotapintar.css").headers["cache-control"] == "no-cache"


def test_static_does_not_serve_outside_its_folder(client: TestClient) -> None:
    assert client.get("/static/../templating.py").status_code == 404
    assert client.get("/static/%2e%2e/templating.py").status_code == 404


def test_every_vendored_package_ships_its_licence_and_version_is_recorded() -> None:
    packages = [p for p in VENDOR.iterdir() if p.is_dir()]
    assert {p.name for p in packages} == {"leaflet", "leaflet.markercluster", "htmx", "htmx-ext-sse"}
    for package in packages:
        assert (package / "LICENSE").stat().st_size > 200, f"{package.name} has no licence"
    versions = (VENDOR / "VERSIONS.txt").read_text(encoding="utf-8")
    script = (ROOT / "scripts" / "vendor_assets.sh").read_text(encoding="utf-8")
    for name, version in re.findall(r"^(\S+) (\d+\.\d+\.\d+)", versions, flags=re.M):
        assert version in script, f"{name} {version} is not the version pinned in scripts/vendor_assets.sh"


def test_vendor_files_match_pinned_versions() -> None:
    assert "Leaflet 1.9.4" in (VENDOR / "leaflet" / "leaflet.js").read_text(encoding="utf-8")[:200]
    assert 'version:"2.0.11"' in (VENDOR / "htmx" / "htmx.min.js").read_text(encoding="utf-8").replace(
        " ", ""
    )


def test_no_source_map_references_that_would_404() -> None:
    for path in _vendored("*.js"):
        assert "sourceMappingURL" not in path.read_text(encoding="utf-8"), path


def test_own_templates_css_and_js_reference_no_external_urls() -> None:
    offenders: dict[str, list[str]] = {}
    for path in _own_files():
        if path.suffix not in {".html", ".css", ".js", ".svg"}:
            continue
        text = _strip_comments(path.read_text(encoding="utf-8"), path.suffix)
        urls = [u for u in URL.findall(text) if u != "http://www.w3.org/2000/svg"]
        if urls:
            offenders[str(path.relative_to(ROOT))] = urls
    assert not offenders


def test_vendored_files_fetch_nothing_from_the_internet() -> None:
    offenders: dict[str, set[str]] = {}
    for path in _vendored("*"):
        if path.suffix not in {".js", ".css"}:
            continue
        urls = set(URL.findall(path.read_text(encoding="utf-8"))) - HARMLESS_VENDOR_URLS
        if urls:
            offenders[path.name] = urls
    assert not offenders


def test_no_cdn_anywhere_in_the_web_package() -> None:
    cdn = re.compile(r"unpkg\.com|cdn\.jsdelivr|cdnjs\.|googleapis\.com|cloudflare", re.I)
    for path in [*_own_files(), *_vendored("*.js"), *_vendored("*.css")]:
        if path.suffix in {".html", ".css", ".js", ".svg"}:
            assert not cdn.search(path.read_text(encoding="utf-8")), path


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    templates = sorted(TEMPLATES_DIR.rglob("*.html"))
    assert len(templates) > 20, f"templates not found under {TEMPLATES_DIR}"
    for path in templates:
        text = _strip_comments(path.read_text(encoding="utf-8"), ".html")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{path.name}: inline <script>"
        assert "<style" not in text, f"{path.name}: <style> element"
        assert not re.search(r"\sstyle=", text), f"{path.name}: style attribute"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{path.name}: inline event handler"
        assert "javascript:" not in text, f"{path.name}: javascript: URL"


def test_our_js_uses_no_eval_or_html_injection_of_data() -> None:
    for name in ("map.js", "live.js"):
        text = _strip_comments((STATIC_DIR / "js" / name).read_text(encoding="utf-8"), ".js")
        assert "eval(" not in text and "new Function" not in text
        assert ".innerHTML" not in text, f"{name}: build DOM with textContent instead"
        assert text.lstrip().startswith("(function ()"), f"{name}: must be an IIFE"


def test_static_weight_stays_small() -> None:
    own_css = (STATIC_DIR / "css" / "kotapintar.css").stat().st_size
    assert own_css < 25 * 1024
    vendor_total = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    assert vendor_total < 300 * 1024
