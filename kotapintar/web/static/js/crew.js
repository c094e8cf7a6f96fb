/* Field-crew page: status buttons, GPS sharing (navigator.geolocation → AVL POST), the way to the incident.
 * Calls carry X-Kp-Unit (crew cookie) or the CSRF token (logged-in officer). Small on purpose. */
(function () {
  'use strict';
  var root = document.querySelector('.crew-page');
  if (!root) { return; }
  var d = root.dataset;
  var code = d.unit;
  var msgEl = document.getElementById('crew-msg');
  var lastFix = null;
  var watchId = null;
  var lastSent = 0;

  function headers() {
    var h = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (d.crewCookie) { h['X-Kp-Unit'] = '1'; }
    if (d.csrf) { h['X-CSRF-Token'] = d.csrf; }
    return h;
  }

  function post(path, body) {
    return fetch('/api/v1/dispatch/units/' + encodeURIComponent(code) + path, {
      method: 'POST', credentials: 'same-origin', headers: headers(), body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { throw new Error((data.error && data.error.message) || d.msgError); }
        return data;
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-status]'), function (btn) {
    btn.addEventListener('click', function () {
      var body = { status: btn.dataset.status, at: new Date().toISOString() };
      if (lastFix) { body.lon = lastFix[0]; body.lat = lastFix[1]; }
      btn.disabled = true;
      post('/status', body).then(function () { window.location.reload(); })
        .catch(function (e) { msgEl.textContent = e.message; btn.disabled = false; });
    });
  });

  function onFix(pos) {
    lastFix = [pos.coords.longitude, pos.coords.latitude];
    var now = Date.now();
    if (now - lastSent < 15000) { return; }
    lastSent = now;
    post('/position', { lon: lastFix[0], lat: lastFix[1], at: new Date(pos.timestamp || now).toISOString(),
      speed: pos.coords.speed ? pos.coords.speed * 3.6 : undefined,
      heading: pos.coords.heading || undefined })
      .then(function () { msgEl.textContent = d.msgGpsOn; })
      .catch(function (e) { msgEl.textContent = e.message; });
    if (map) { map.update(lastFix); }
  }

  var gps = document.getElementById('crew-gps');
  gps.addEventListener('change', function () {
    if (!gps.checked) {
      if (watchId !== null) { navigator.geolocation.clearWatch(watchId); watchId = null; }
      msgEl.textContent = d.msgGpsOff; return;
    }
    if (!navigator.geolocation) { msgEl.textContent = d.msgGpsFailed; gps.checked = false; return; }
    watchId = navigator.geolocation.watchPosition(onFix, function () { msgEl.textContent = d.msgGpsFailed; },
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
  });

  /* the way there: a straight line from the unit to the incident (the road path comes with a network) */
  var map = null;
  var el = document.getElementById('crew-map');
  if (el && window.L) {
    var inc = el.dataset.incident.split(',').map(Number);
    var pos = el.dataset.unitPos.split(',').map(function (x) { return x === '' ? NaN : Number(x); });
    var m = L.map(el, { attributionControl: false }).setView([inc[1], inc[0]], 14);
    L.circleMarker([inc[1], inc[0]], { radius: 9, className: 'kp-marker-p1' }).addTo(m);
    var me = null, line = null;
    map = {
      update: function (p) {
        if (!isFinite(p[0]) || !isFinite(p[1])) { return; }
        var ll = [p[1], p[0]];
        if (!me) { me = L.circleMarker(ll, { radius: 7 }).addTo(m); line = L.polyline([ll, [inc[1], inc[0]]]).addTo(m); }
        me.setLatLng(ll); line.setLatLngs([ll, [inc[1], inc[0]]]);
        m.fitBounds(line.getBounds(), { padding: [20, 20], maxZoom: 16 });
      }
    };
    map.update(pos);
  }

  /* a new assignment shows up without a tap: poll every 20 s */
  setInterval(function () {
    fetch('/api/v1/dispatch/units/' + encodeURIComponent(code), { credentials: 'same-origin', headers: headers() })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && String((data.unit && data.unit.case_id) || '') !== String(d.case || '')) { window.location.reload(); }
      }).catch(function () {});
  }, 20000);
})();
