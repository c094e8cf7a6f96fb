/* The operator's sensor page: draws every device on the page's map (region boundaries from map.js) as a
 * marker coloured by its health and, for a reporting river gauge, by its flood level; re-reads the markers
 * whenever htmx has refreshed the page body. Plain ES2017, no build. Options in data-* attributes of
 * [data-ui-sensors]: data-map (selector of the map element), data-devices-url (GeoJSON of the devices),
 * data-msg-map-failed, data-msg-last-seen. Text is set with textContent only. */
(function () {
  'use strict';

  var SIZE = 18;

  function fetchJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/geo+json, application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); });
  }

  function token(value) { return String(value || '').replace(/[^a-z_]/gi, ''); }

  /* ok gauges take the colour of their flood level; stale and never-seen devices are grey whatever they said last. */
  function markerClass(props) {
    var health = token(props.health) || 'never_seen';
    var cls = 'kp-sensor kp-sensor-' + health;
    if (health === 'ok' && props.level) { cls += ' kp-sensor-level-' + token(props.level); }
    return cls;
  }

  function line(parent, text, cls) {
    if (!text) { return; }
    var el = document.createElement('div');
    el.textContent = text;
    if (cls) { el.className = cls; }
    parent.appendChild(el);
  }

  function popupContent(props, msgs) {
    var box = document.createElement('div');
    var title = document.createElement('a');
    title.className = 'kp-popup-title';
    title.textContent = props.name || props.id;
    title.href = props.url || '#';
    box.appendChild(title);
    line(box, [props.id, props.kind_label].filter(Boolean).join(' · '));
    line(box, [props.health_label, props.level_label].filter(Boolean).join(' · '));
    line(box, props.value_text);
    if (props.last_seen_text) { line(box, (msgs.lastSeen ? msgs.lastSeen + ': ' : '') + props.last_seen_text); }
    return box;
  }

  function start() {
    var root = document.querySelector('[data-ui-sensors]');
    if (!root || !window.KotapintarMap || !window.L) { return; }
    var mapEl = document.querySelector(root.dataset.map);
    var kp = mapEl && window.KotapintarMap.get(mapEl);
    if (!kp) { return; }
    var status = document.querySelector('[data-sensor-map-status]');
    var msgs = { failed: root.dataset.msgMapFailed || '', lastSeen: root.dataset.msgLastSeen || '' };
    var layer = window.L.featureGroup().addTo(kp.map);

    function draw(geojson) {
      layer.clearLayers();
      var features = (geojson && geojson.features) || [];
      features.forEach(function (feature) {
        var props = feature.properties || {};
        var coords = feature.geometry && feature.geometry.coordinates;
        if (!coords || coords.length < 2) { return; }
        var marker = window.L.marker([coords[1], coords[0]], {
          icon: window.L.divIcon({ className: markerClass(props), html: '', iconSize: [SIZE, SIZE], iconAnchor: [SIZE / 2, SIZE / 2] }),
          title: props.name || String(props.id),
          alt: props.name || String(props.id),
          keyboard: true,
          riseOnHover: true
        });
        marker.bindPopup(function () { return popupContent(props, msgs); });
        layer.addLayer(marker);
      });
      mapEl.dataset.sensorMarkers = String(layer.getLayers().length);
      if (status) { status.textContent = ''; }
    }

    function load() {
      fetchJson(root.dataset.devicesUrl).then(draw).catch(function () {
        if (status) { status.textContent = msgs.failed; }
      });
    }

    load();
    document.body.addEventListener('htmx:afterSwap', function (event) {
      if (event.target === root) { load(); }
    });
  }

  if (document.readyState === 'complete') {
    start();
  } else {
    document.addEventListener('DOMContentLoaded', start);
  }
})();
