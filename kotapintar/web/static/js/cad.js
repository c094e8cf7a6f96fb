/* 112 CAD screen: keeps the incident board, the unit status board and the open calls current, ticks their
 * ages, and draws the active incidents and the units on the console's map.
 * The boards are server-rendered fragments (htmx, hx-trigger "kp-cad-refresh from:body"); this script fires
 * that trigger when the live stream (live.js -> `kotapintar:event`) reports a change, and every 20 s for
 * changes the stream does not carry (a unit back at its base is on no case). The open calls list is not
 * re-read while the call-taker is using it. Plain ES2017, no build step, no innerHTML with data. */
(function () {
  'use strict';

  var root = document.getElementById('ct');
  if (!root || !root.classList.contains('cad')) { return; }
  var msg = root.dataset;
  var timer = null;

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /* the same text as the server's age_label: 04:35, 2 j 05 mnt, 4 hari 11 jam */
  function ageText(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var minutes = Math.floor(s / 60);
    var hours = Math.floor(minutes / 60);
    if (hours < 1) { return msg.msgAgeMinutes.replace('{m}', pad(minutes)).replace('{s}', pad(s % 60)); }
    if (hours < 48) { return msg.msgAgeHours.replace('{h}', String(hours)).replace('{m}', pad(minutes % 60)); }
    return msg.msgAgeDays.replace('{d}', String(Math.floor(hours / 24))).replace('{h}', String(hours % 24));
  }

  function tickAges() {
    var now = Date.now();
    var els = document.querySelectorAll('time.cad-age[data-since]');
    for (var i = 0; i < els.length; i++) {
      var since = Date.parse(els[i].getAttribute('data-since'));
      if (!isNaN(since)) { els[i].textContent = ageText((now - since) / 1000); }
    }
  }

  function busy(selector) {
    var el = document.querySelector(selector);
    var active = document.activeElement;
    return !!(el && active && el !== document.body && el.contains(active));
  }

  function refresh() {
    if (!window.htmx) { return; }
    ['#cad-incidents', '#cad-units', '#cad-open-calls'].forEach(function (sel) {
      if (sel === '#cad-open-calls' && busy(sel)) { return; }
      var el = document.querySelector(sel);
      if (el) { window.htmx.trigger(el, 'kp-cad-board'); }
    });
  }

  /* at most one re-read per 400 ms however busy the stream is (a debounce would starve on a busy day) */
  function refreshSoon() {
    if (timer) { return; }
    timer = setTimeout(function () { timer = null; refresh(); }, 400);
  }

  /* ------------------------------------------------------------------ the map overlay */
  var layers = null;

  function mapLayers() {
    if (layers) { return layers; }
    var kp = window.KotapintarMap && window.KotapintarMap.get('#ct-map');
    if (!kp || !window.L) { return null; }
    layers = { incidents: window.L.layerGroup().addTo(kp.map), units: window.L.layerGroup().addTo(kp.map) };
    return layers;
  }

  function safe(value) { return String(value || '').replace(/[^A-Za-z0-9_]/g, ''); }

  function drawIncidents() {
    var l = mapLayers();
    if (!l) { return; }
    l.incidents.clearLayers();
    document.querySelectorAll('#cad-incidents tr[data-incident][data-lon]').forEach(function (row) {
      var lon = Number(row.dataset.lon), lat = Number(row.dataset.lat);
      if (!isFinite(lon) || !isFinite(lat)) { return; }
      var link = row.querySelector('a[data-case-link]');
      window.L.circleMarker([lat, lon], { radius: 9, weight: 2, className: 'kp-marker-' + safe(row.dataset.priority).toLowerCase() + ' cad-incident-marker' })
        .bindTooltip(link ? link.textContent : row.dataset.incident)
        .addTo(l.incidents);
    });
  }

  function drawUnits() {
    var l = mapLayers();
    if (!l) { return; }
    l.units.clearLayers();
    document.querySelectorAll('#cad-units tr[data-unit][data-lon]').forEach(function (row) {
      var lon = Number(row.dataset.lon), lat = Number(row.dataset.lat);
      if (!isFinite(lon) || !isFinite(lat)) { return; }
      window.L.circleMarker([lat, lon], { radius: 5, weight: 2, className: 'kp-unit kp-unit-' + safe(row.dataset.unitStatus) })
        .bindTooltip(row.dataset.unit)
        .addTo(l.units);
    });
  }

  function start() {
    tickAges();
    setInterval(tickAges, 1000);
    setInterval(refresh, 20000);
    document.addEventListener('kotapintar:event', function (event) {
      var d = event.detail || {};
      if (d.type) { refreshSoon(); }
    });
    document.body.addEventListener('htmx:afterSwap', function (ev) {
      var id = ev.detail && ev.detail.target && ev.detail.target.id;
      tickAges();
      if (id === 'cad-incidents') { drawIncidents(); }
      if (id === 'cad-units') { drawUnits(); }
    });
    /* boards are asked to refresh through their own trigger; the page-wide one is the calltaker's */
    document.body.addEventListener('kp-cad-refresh', function () { refreshSoon(); });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
