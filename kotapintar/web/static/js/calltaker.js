/* 112 call-taker console: keyboard-first flow from a ringing call to dispatched units.
 * Drives /api/v1/dispatch/* with the session cookie and the CSRF token (data-csrf). Shortcuts (also listed
 * on the page): Alt+N new call, Alt+P caller number, Alt+J incident type, Alt+L location (desa search),
 * Alt+1..5 classification, Alt+<letter> toggles the protocol question with that key (yes → no → unset),
 * Ctrl+Enter submit the call, Alt+D dispatch the selected units, Esc back to the form.
 * Plain ES2017, no build step, no innerHTML with data. */
(function () {
  'use strict';

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  /* ---------------------------------------------------------------- login form (no session yet) */
  var login = $('#ct-login');
  if (login) {
    login.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = new URLSearchParams(new FormData(login));
      fetch('/api/v1/auth/session', { method: 'POST', body: body, credentials: 'same-origin' }).then(function (r) {
        if (r.ok) { window.location.assign(login.dataset.next || '/112'); return; }
        $('#ct-login-status').textContent = login.dataset.msgFailed;
      });
    });
    return;
  }

  var root = $('#ct');
  if (!root) { return; }
  var msg = root.dataset;
  var state = { call: null, started: 0, timer: null, caseId: null, recommended: [] };
  var statusEl = $('#ct-status');
  var typeSel = $('#ct-type');

  function say(text) { statusEl.textContent = text; }

  function api(method, url, body) {
    var headers = { Accept: 'application/json' };
    if (msg.csrf) { headers['X-CSRF-Token'] = msg.csrf; }
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; }
    return fetch(url, { method: method, headers: headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) {
            var err = new Error((data.error && data.error.message) || msg.msgError);
            err.data = data; throw err;
          }
          return data;
        });
      });
  }

  function tick() {
    var s = Math.floor((Date.now() - state.started) / 1000);
    $('#ct-clock').textContent = String(Math.floor(s / 60)).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
  }

  function resetForm() {
    $('#ct-call').reset();
    $all('.protocol-card').forEach(function (c) { c.hidden = true; });
    $('#ct-rec').hidden = true;
    $('#ct-case-link').hidden = true;
    $('#ct-region').value = '';
    clearList($('#ct-nearby'));
    var dup = $('#ct-dup');
    while (dup.options.length > 1) { dup.remove(1); }
  }

  function newCall(keepForm) {
    if (keepForm !== true) { resetForm(); }
    var caller = $('#ct-caller').value.trim();
    return api('POST', '/api/v1/dispatch/calls', caller ? { caller_number: caller } : {}).then(function (call) {
      state.call = call; state.caseId = null;
      state.started = Date.parse(call.received_at) || Date.now();
      if (state.timer) { clearInterval(state.timer); }
      state.timer = setInterval(tick, 500); tick();
      $('#ct-call-id').textContent = '#' + call.id;
      say('');
      if (keepForm !== true) { $('#ct-caller').focus(); }
    }).catch(function (e) { say(e.message); });
  }

  function currentCard() {
    return typeSel.value ? $('.protocol-card[data-protocol="' + typeSel.value + '"]') : null;
  }

  function answers() {
    var card = currentCard(); var out = {};
    if (!card) { return out; }
    $all('.protocol-q', card).forEach(function (q) {
      var id = q.dataset.question;
      if (q.dataset.type === 'bool') {
        var picked = $('input[type=radio]:checked', q);
        if (picked) { out[id] = picked.value === 'true'; }
      } else {
        var v = $('input', q).value;
        if (v !== '') { out[id] = parseInt(v, 10); }
      }
    });
    return out;
  }

  typeSel.addEventListener('change', function () {
    $all('.protocol-card').forEach(function (c) { c.hidden = c.dataset.protocol !== typeSel.value; });
    var card = currentCard();
    var first = card && $('input', card);
    if (first) { first.focus(); }
  });

  /* desa search: picking a datalist entry sets the region and the point */
  $('#ct-desa').addEventListener('change', function (ev) {
    var value = ev.target.value;
    var opt = $all('#ct-desa-list option').filter(function (o) { return o.value === value; })[0];
    if (!opt) { return; }
    $('#ct-region').value = opt.dataset.code;
    var m = window.KotapintarMap && window.KotapintarMap.get('#ct-map');
    if (m) { m.setPoint(Number(opt.dataset.lon), Number(opt.dataset.lat)); } else {
      $('#f-lon').value = opt.dataset.lon; $('#f-lat').value = opt.dataset.lat; loadNearby();
    }
  });

  function clearList(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }

  function loadNearby() {
    var lon = parseFloat($('#f-lon').value), lat = parseFloat($('#f-lat').value);
    if (!isFinite(lon) || !isFinite(lat)) { return; }
    api('GET', '/api/v1/dispatch/nearby?lon=' + lon + '&lat=' + lat + '&radius_m=1500').then(function (rows) {
      var list = $('#ct-nearby'); clearList(list);
      var dup = $('#ct-dup');
      while (dup.options.length > 1) { dup.remove(1); }
      if (!rows.length) { var li = document.createElement('li'); li.textContent = msg.msgNoNearby; list.appendChild(li); }
      var features = [];
      rows.forEach(function (r) {
        var item = document.createElement('li');
        item.textContent = r.ticket + ' · ' + r.priority + ' · ' + r.title + ' · ' + r.distance_m + ' m';
        list.appendChild(item);
        var o = document.createElement('option'); o.value = r.case_id; o.textContent = r.ticket + ' — ' + r.title;
        dup.appendChild(o);
        features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: [r.lon, r.lat] },
          properties: { id: r.case_id, priority: r.priority, status: r.status, title: r.ticket + ' ' + r.title } });
      });
      var m = window.KotapintarMap && window.KotapintarMap.get('#ct-map');
      if (m) { m.setCases({ type: 'FeatureCollection', features: features }); }
    }).catch(function () { /* nearby list is a help, not a step */ });
  }
  $('#f-lon').addEventListener('change', loadNearby);
  $('#f-lat').addEventListener('change', loadNearby);

  function classifyBody() {
    var cls = ($('input[name=classification]:checked') || {}).value || 'genuine';
    var lon = parseFloat($('#f-lon').value), lat = parseFloat($('#f-lat').value);
    var body = { classification: cls, answers: answers() };
    var caller = $('#ct-caller').value.trim(); if (caller) { body.caller_number = caller; }
    if (typeSel.value) { body.service_code = typeSel.value; }
    if (isFinite(lon) && isFinite(lat)) { body.lon = lon; body.lat = lat; }
    if ($('#ct-region').value) { body.region_code = $('#ct-region').value; }
    var text = $('#ct-loctext').value.trim(); if (text) { body.location_text = text; }
    var desc = $('#ct-desc').value.trim(); if (desc) { body.description = desc; }
    if (cls === 'duplicate' && $('#ct-dup').value) { body.duplicate_of = parseInt($('#ct-dup').value, 10); }
    return body;
  }

  function submitCall() {
    if (state.call && state.call.classification === 'genuine' && state.call.case_id) {
      /* saved already: saving again shows the same case, it never opens a second one */
      say(msg.msgCaseOpened.replace('{ticket}', state.call.ticket || state.call.case_id));
      return loadRecommendation(state.call.case_id);
    }
    var ready = state.call ? Promise.resolve() : newCall(true);
    return ready.then(function () {
      if (!state.call) { return; }
      return api('POST', '/api/v1/dispatch/calls/' + state.call.id + '/classify', classifyBody()).then(function (call) {
        if (call.classification === 'genuine' && call.case_id) {
          state.call = call;
          state.caseId = call.case_id;
          say(msg.msgCaseOpened.replace('{ticket}', call.ticket || call.case_id));
          return loadRecommendation(call.case_id);
        }
        state.call = null;
        if (state.timer) { clearInterval(state.timer); }
        say(msg.msgCallClosed);
        resetForm();
        $('#ct-new').focus();
      });
    }).catch(function (e) { say(e.message); });
  }

  function loadRecommendation(caseId) {
    return api('GET', '/api/v1/dispatch/cases/' + caseId + '/recommendation').then(function (rec) {
      state.recommended = rec.selected;
      $('#ct-rec-method').textContent = rec.estimate_label + (rec.runcard ? ' · ' + rec.runcard : '');
      var notices = $('#ct-rec-notices'); clearList(notices);
      rec.notices.forEach(function (n) { var li = document.createElement('li'); li.textContent = n; notices.appendChild(li); });
      var list = $('#ct-rec-list'); clearList(list);
      rec.kinds.forEach(function (kind) {
        var fs = document.createElement('fieldset');
        var lg = document.createElement('legend'); lg.textContent = (kind.label || kind.kind) + ' × ' + kind.count; fs.appendChild(lg);
        kind.candidates.concat(kind.mutual_aid).forEach(function (c) {
          var label = document.createElement('label'); label.className = 'ct-unit';
          var box = document.createElement('input'); box.type = 'checkbox'; box.name = 'unit'; box.value = c.unit_id;
          box.checked = rec.selected.indexOf(c.unit_id) >= 0;
          label.appendChild(box);
          label.appendChild(document.createTextNode(' ' + c.unit_id + ' — ' + c.explanation));
          fs.appendChild(label);
        });
        list.appendChild(fs);
      });
      var link = $('#ct-case-link'); link.href = '/112/kasus/' + caseId; link.hidden = false;
      $('#ct-rec').hidden = false;
      $('#ct-send').focus();
    });
  }

  function dispatchUnits() {
    if (!state.caseId) { say(msg.msgNoCall); return; }
    var chosen = $all('#ct-rec-list input[name=unit]:checked').map(function (b) { return b.value; });
    var same = chosen.length === state.recommended.length && chosen.every(function (u) { return state.recommended.indexOf(u) >= 0; });
    var reason = $('#ct-reason').value.trim();
    if (!same && reason.length < 3) { say(msg.msgReasonNeeded); $('#ct-reason').focus(); return; }
    var body = same ? {} : { units: chosen, override_reason: reason };
    api('POST', '/api/v1/dispatch/cases/' + state.caseId + '/dispatch', body).then(function (res) {
      if (state.timer) { clearInterval(state.timer); }
      say(msg.msgDispatched.replace('{units}', res.units.join(', ')));
      $('#ct-rec').hidden = true;
      resetForm();
      /* the case stays one click away after the form is cleared for the next call */
      var link = $('#ct-case-link'); link.href = '/112/kasus/' + res.case_id; link.hidden = false;
      state.call = null; state.caseId = null;
      $('#ct-new').focus();
    }).catch(function (e) { say(e.message); });
  }

  $('#ct-new').addEventListener('click', function () { newCall(); });
  $('#ct-call').addEventListener('submit', function (ev) { ev.preventDefault(); submitCall(); });
  $('#ct-dispatch').addEventListener('submit', function (ev) { ev.preventDefault(); dispatchUnits(); });

  function toggleQuestion(q) {
    if (q.dataset.type !== 'bool') { $('input', q).focus(); return; }
    var radios = $all('input[type=radio]', q);
    var picked = radios.filter(function (r) { return r.checked; })[0];
    if (!picked) { radios[0].checked = true; radios[0].focus(); }
    else if (picked === radios[0]) { radios[1].checked = true; radios[1].focus(); }
    else { radios[1].checked = false; radios[0].focus(); }
    q.dispatchEvent(new Event('change', { bubbles: true }));
  }

  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      if (!$('#ct-rec').hidden) { dispatchUnits(); } else { submitCall(); }
      return;
    }
    if (ev.key === 'Escape') { $('#ct-rec').hidden = true; $('#ct-caller').focus(); return; }
    if (!ev.altKey || ev.ctrlKey) { return; }
    var key = ev.key.toLowerCase();
    var fixed = { n: function () { newCall(); }, p: function () { $('#ct-caller').focus(); },
      j: function () { typeSel.focus(); }, l: function () { $('#ct-desa').focus(); }, d: dispatchUnits };
    if (/^[1-5]$/.test(key)) {
      var radio = $all('input[name=classification]')[parseInt(key, 10) - 1];
      if (radio) { radio.checked = true; radio.focus(); if (radio.value === 'duplicate') { $('#ct-dup').focus(); } }
      ev.preventDefault(); return;
    }
    var card = currentCard();
    var q = card && $all('.protocol-q', card).filter(function (x) { return x.dataset.key === key; })[0];
    if (q) { ev.preventDefault(); toggleQuestion(q); return; }
    if (fixed[key]) { ev.preventDefault(); fixed[key](); }
  });
})();
