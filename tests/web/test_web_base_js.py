"""map.js and live.js running on the vendored Leaflet in jsdom: boundaries, 10,000 markers, live, picking.

Needs `node` and the npm package `jsdom` (not a project dependency): set KOTAPINTAR_JSDOM_DIR to a folder
whose node_modules holds jsdom (e.g. `npm install --prefix /tmp/jsd jsdom@24`); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kotapintar.core.http.templating import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ROOT / "kotapintar" / "catalog" / "data" / "demo" / "regions.geojson"

SCRIPT = r"""
const { JSDOM } = require('jsdom');
const fs = require('fs');
const [staticDir, regionsPath] = process.argv.slice(2);
const regions = fs.readFileSync(regionsPath, 'utf8');
function check(cond, what) { if (!cond) { console.error('FAILED: ' + what); process.exit(1); } }
const dom = new JSDOM(`<!doctype html><html><body data-live-url="/stream">
<div data-live-banner data-msg-p1="Kasus darurat baru: {title}" hidden></div>
<div id="m" data-kp-map data-boundaries-url="/regions" data-live="1"></div>
<div id="p" data-kp-map data-pick="1" data-pick-lon="#lon" data-pick-lat="#lat" data-locate-button="#loc"
  data-center="114.4,-2.0" data-zoom="12"></div>
<input id="lon"><input id="lat"><button id="loc"></button></body></html>`,
  { runScripts: 'outside-only', pretendToBeVisual: true, url: 'http://localhost/' });
const w = dom.window;
// jsdom lays nothing out and has no SVG geometry: give Leaflet a size and an SVG renderer.
Object.defineProperty(w.HTMLElement.prototype, 'clientWidth', { get() { return 800; } });
Object.defineProperty(w.HTMLElement.prototype, 'clientHeight', { get() { return 600; } });
w.SVGSVGElement.prototype.createSVGRect = function () { return {}; };
w.fetch = () => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(JSON.parse(regions)) });
const sources = [];
w.EventSource = function (url) {
  this.url = url; this.readyState = 1; this.listeners = {}; sources.push(this);
  this.addEventListener = (n, f) => { this.listeners[n] = f; }; this.close = () => {};
};
w.EventSource.CLOSED = 2;
for (const f of ['vendor/leaflet/leaflet.js', 'vendor/leaflet.markercluster/leaflet.markercluster.js',
                 'js/map.js', 'js/live.js']) { w.eval(fs.readFileSync(staticDir + '/' + f, 'utf8')); }
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
(async () => {
  await sleep(50);
  const m = w.KotapintarMap.get('#m');
  check(m, 'map auto-initialised from data-kp-map');
  check(w.document.querySelectorAll('path.kp-boundary-kabupaten').length === 1, 'kabupaten outline');
  check(w.document.querySelectorAll('path.kp-boundary-kecamatan').length === 17, 'kecamatan lines');
  check(w.document.querySelectorAll('.kp-region-label').length === 17, 'kecamatan labels');
  check(w.document.querySelectorAll('.leaflet-tile').length === 0, 'no tiles by default');
  const feats = [];
  for (let i = 0; i < 10000; i++) feats.push({ type: 'Feature',
    geometry: { type: 'Point', coordinates: [113.8 + (i % 100) * 0.008, -3 + Math.floor(i / 100) * 0.023] },
    properties: { id: i, priority: 'P' + (1 + (i % 4)), status: 'received', title: 'Kasus ' + i } });
  check(m.setCases({ type: 'FeatureCollection', features: feats }) === 10000, 'setCases counts');
  // while chunked loading runs: update one queued marker, remove another
  m.upsertCase({ type: 'Feature', geometry: { type: 'Point', coordinates: [114.0, -2.0] },
    properties: { id: 9999, priority: 'P1', status: 'received' } });
  m.removeCase(9998);
  for (let k = 0; k < 150 && m.cluster.getLayers().length < 9999; k++) await sleep(100);
  await sleep(200);
  check(m.cluster.getLayers().length === 9999 && m.caseCount() === 9999, '10,000 loaded minus one removed');
  check(m.markers['9999'].getLatLng().lng === 114.0, 'queued marker updated in place');
  check(m.cluster.getLayers().every(l => l.options.kpId !== '9998'), 'queued marker removed after load');
  check(w.document.querySelectorAll('.kp-cluster-p1').length > 0, 'clusters coloured by most urgent case');
  sources[0].listeners.message({ type: 'message', lastEventId: '7', data: JSON.stringify({
    type: 'case_created', priority: 'P1', title: 'Kebakaran <b>pasar</b>',
    feature: { type: 'Feature', geometry: { type: 'Point', coordinates: [114.1, -2.5] },
               properties: { id: 'new', priority: 'P1', status: 'received', title: 'x' } } }) });
  check(m.hasCase('new'), 'live feature upserted');
  const banner = w.document.querySelector('[data-live-banner]');
  check(!banner.hidden && banner.textContent === 'Kasus darurat baru: Kebakaran <b>pasar</b>', 'P1 banner as text');
  check(banner.querySelector('b') === null, 'banner text not parsed as HTML');
  sources[0].listeners.message({ type: 'message', lastEventId: '8', data: JSON.stringify({ remove_id: 'new' }) });
  check(!m.hasCase('new'), 'live remove');
  m.upsertCase({ type: 'Feature', geometry: { type: 'Point', coordinates: [114.2, -2.5] },
    properties: { id: 5, priority: 'P4', status: 'closed' } });
  check(m.markers['5'].getLatLng().lng === 114.2 && m.caseCount() === 9999, 'upsert moves, no duplicate');
  check(/kp-marker-p4 is-final/.test(m.markers['5'].options.icon.options.className), 'recoloured and dimmed');
  const p = w.KotapintarMap.get('#p');
  p.map.fire('click', { latlng: w.L.latLng(-2.1, 114.3) });
  const lon = w.document.getElementById('lon'), lat = w.document.getElementById('lat');
  check(lon.value === '114.300000' && lat.value === '-2.100000', 'click writes lon/lat');
  Object.defineProperty(w.navigator, 'geolocation', { value: { getCurrentPosition: (ok) =>
    ok({ coords: { longitude: 114.5, latitude: -2.25 } }) } });
  w.document.getElementById('loc').click();
  check(lon.value === '114.500000' && lat.value === '-2.250000', 'locate button writes lon/lat');
  lon.value = '114.0'; lon.dispatchEvent(new w.Event('change'));
  check(p.pickMarker.getLatLng().lng === 114.0, 'typing into the inputs moves the marker');
  console.log('ok');
  process.exit(0);
})().catch(e => { console.error(e); process.exit(1); });
"""


def _jsdom_dir() -> Path | None:
    configured = os.environ.get("KOTAPINTAR_JSDOM_DIR")
    candidates = [Path(configured)] if configured else []
    candidates.append(ROOT)
    for folder in candidates:
        if (folder / "node_modules" / "jsdom").is_dir():
            return folder
    return None


@pytest.mark.slow
def test_map_and_live_modules_in_jsdom() -> None:
    node = shutil.which("node")
    folder = _jsdom_dir()
    if node is None or folder is None:
        pytest.skip("node or jsdom absent: set KOTAPINTAR_JSDOM_DIR (npm install --prefix DIR jsdom@24)")
    script = folder / f"kotapintar-map-smoke-{os.getpid()}.cjs"
    script.write_text(SCRIPT, encoding="utf-8")
    try:
        result = subprocess.run(
            [node, str(script), str(STATIC_DIR), str(REGIONS)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        script.unlink(missing_ok=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert result.stdout.strip().endswith("ok"), json.dumps(result.stdout[-500:])
