/* The operator wall: loads the case map (compact GeoJSON, clustered), draws units with their status, and
 * keeps markers current from the live stream (re-reads one case per event). Plain ES2017, no build. */
(function () {
  'use strict';

  function fetchJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); });
  }

  function start() {
    var side = document.querySelector('[data-ui-operator]');
    if (!side || !window.KotapintarMap) { return; }
    var mapEl = document.querySelector(side.dataset.map);
    var kp = mapEl && window.KotapintarMap.get(mapEl);
    if (!kp) { return; }
    var unitLayer = window.L.layerGroup().addTo(kp.map);

    function drawUnits(units) {
      unitLayer.clearLayers();
      (units || []).forEach(function (u) {
        var lon = u.lon != null ? u.lon : u.base_lon;
        var lat = u.lat != null ? u.lat : u.base_lat;
        if (lon == null || lat == null) { return; }
        var status = String(u.status || 'unknown').replace(/[^a-z_]/gi, '');
        var marker = window.L.circleMarker([lat, lon], {
          radius: 6, className: 'kp-unit kp-unit-' + status, weight: 2
        });
        var text = (side.dataset.msgUnitStatus || '{name}: {status}')
          .replace('{name}', u.name || u.code).replace('{status}', u.status || '');
        marker.bindTooltip(text);
        marker.addTo(unitLayer);
      });
    }

    function loadUnits() { fetchJson(side.dataset.unitsUrl).then(drawUnits).catch(function () {}); }
    loadUnits();

    var featureUrl = side.dataset.featureUrl;
    var unitTimer = null;
    document.addEventListener('kotapintar:event', function (event) {
      var d = event.detail || {};
      if (d.case_id != null && featureUrl) {
        fetchJson(featureUrl.replace('{id}', encodeURIComponent(d.case_id)))
          .then(function (body) { kp.handleEvent(body); })
          .catch(function () {});
      }
      if (String(d.type || '').indexOf('unit_') === 0) {
        clearTimeout(unitTimer);
        unitTimer = setTimeout(loadUnits, 300);
      }
    });
  }

  if (document.readyState === 'complete') {
    start();
  } else {
    document.addEventListener('DOMContentLoaded', start);
  }
})();
