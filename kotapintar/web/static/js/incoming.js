/* The live list of incoming cases: new cases are prepended, status changes update their row, and the map
 * gets the new marker (fetched as a public GeoJSON feature). Listens to `kotapintar:event` from live.js. */
(function () {
  'use strict';

  var table = document.querySelector('[data-incoming]');
  if (!table) { return; }
  var body = table.tBodies[0];
  var MAX_ROWS = 200;

  function statusLabel(status) {
    var key = 'status' + status.split('_').map(function (p) { return p.charAt(0).toUpperCase() + p.slice(1); }).join('');
    return table.dataset[key] || status;
  }

  function badge(cls, text) {
    var span = document.createElement('span');
    span.className = 'badge ' + cls;
    span.textContent = text;
    return span;
  }

  function cell(content) {
    var td = document.createElement('td');
    if (typeof content === 'string') { td.textContent = content; } else if (content) { td.appendChild(content); }
    return td;
  }

  function addRow(event) {
    var p = event.payload || {};
    if (body.querySelector('tr[data-case-id="' + event.case_id + '"]')) { return; }
    var empty = body.querySelector('[data-empty]');
    if (empty) { empty.remove(); }
    var row = document.createElement('tr');
    row.dataset.caseId = String(event.case_id);
    row.className = 'row-new';
    var link = document.createElement('a');
    link.href = '/lacak/' + encodeURIComponent(p.ticket || '');
    link.textContent = p.ticket || ('#' + event.case_id);
    row.appendChild(cell(link));
    row.appendChild(cell(badge('badge-' + String(p.priority || '').toLowerCase(), p.priority || '')));
    row.appendChild(cell(p.service || ''));
    var statusCell = cell(badge('badge-status-' + (p.status || 'received').replace('_', '-'), statusLabel(p.status || 'received')));
    statusCell.dataset.status = '';
    row.appendChild(statusCell);
    var time = document.createElement('time');
    time.dateTime = event.occurred_at;
    time.textContent = new Date(event.occurred_at).toLocaleTimeString();
    row.appendChild(cell(time));
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > MAX_ROWS) { body.deleteRow(body.rows.length - 1); }
    fetchFeature(event.case_id);
  }

  function updateStatus(event) {
    var to = event.payload && event.payload.to;
    if (!to) { return; }
    var row = body.querySelector('tr[data-case-id="' + event.case_id + '"]');
    if (!row) { return; }
    var target = row.querySelector('[data-status]');
    if (!target) { return; }
    target.textContent = '';
    target.appendChild(badge('badge-status-' + to.replace('_', '-'), statusLabel(to)));
    fetchFeature(event.case_id);
  }

  function fetchFeature(caseId) {
    if (!window.KotapintarMap || !window.fetch) { return; }
    var map = window.KotapintarMap.get && window.KotapintarMap.get('#live-map');
    if (!map) { return; }
    fetch(table.dataset.featureUrl + encodeURIComponent(caseId), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (feature) { if (feature && feature.geometry) { map.upsertCase(feature); } })
      .catch(function () { /* the list stays right even when the map cannot be updated */ });
  }

  document.addEventListener('kotapintar:event', function (e) {
    var event = e.detail || {};
    if (event.type === 'case_created') { addRow(event); } else if (event.payload && event.payload.to) { updateStatus(event); }
  });
})();
