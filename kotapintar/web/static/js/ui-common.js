/* Kotapintar command-center pages: live due clocks, the live stream with every named event type, P1 alerts,
 * and live refresh of server-rendered fragments (queue, inbox, case body) through htmx triggers.
 * Plain ES2017, no build, no inline script (CSP). */
(function () {
  'use strict';

  var AMBER_S = 3600; // less than an hour left: amber

  function formatLeft(seconds) {
    var s = Math.abs(Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    if (h >= 48) { return Math.floor(h / 24) + 'd ' + (h % 24) + 'h'; }
    return (h ? h + ':' + pad(m) : m) + ':' + pad(sec);
  }

  function tickClocks() {
    var now = Date.now();
    var clocks = document.querySelectorAll('time.clock[data-due]');
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var due = Date.parse(el.getAttribute('data-due'));
      if (isNaN(due)) { continue; }
      var left = (due - now) / 1000;
      var late = left < 0;
      var template = late ? (el.dataset.msgLate || '-{t}') : (el.dataset.msgLeft || '{t}');
      el.textContent = template.replace('{t}', formatLeft(left));
      el.classList.toggle('clock-red', late);
      el.classList.toggle('clock-amber', !late && left < AMBER_S);
      el.classList.toggle('clock-ok', !late && left >= AMBER_S);
    }
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function trigger(name) {
    if (window.htmx) { window.htmx.trigger(document.body, name); }
  }

  function focusInside(selector) {
    var el = document.querySelector(selector);
    var active = document.activeElement;
    return !!(el && active && el.contains(active) && /INPUT|TEXTAREA|SELECT/.test(active.tagName));
  }

  var refreshQueue = debounce(function () { trigger('kp-queue-refresh'); }, 150);
  var refreshInbox = debounce(function () {
    if (focusInside('#inbox')) { refreshInbox(); return; }
    trigger('kp-inbox-refresh');
  }, 150);
  var refreshCase = debounce(function () {
    if (focusInside('#case-body')) { refreshCase(); return; }
    trigger('kp-case-changed');
  }, 150);

  function onEvent(event) {
    var d = event.detail || {};
    if (!d.type) { return; }
    var payload = d.payload || {};
    if (d.type === 'case_created' && String(payload.priority || '').toUpperCase() === 'P1' && window.KotapintarLive) {
      var banner = document.querySelector('[data-live-banner]');
      var text = ((banner && banner.dataset.msgP1) || '{title}').replace('{title}', payload.ticket || String(d.case_id));
      window.KotapintarLive.flashBanner(text);
      window.KotapintarLive.beep();
    }
    if (document.querySelector('#queue')) { refreshQueue(); }
    if (document.querySelector('#inbox')) { refreshInbox(); }
    var caseBody = document.querySelector('[data-ui-case]');
    if (caseBody && String(d.case_id) === caseBody.getAttribute('data-ui-case')) { refreshCase(); }
  }

  /* live.js listens to unnamed messages only; our stream names every event, so reconnect with the names. */
  function restartStream() {
    var live = window.KotapintarLive;
    var url = document.body && document.body.dataset.liveUrl;
    var meta = document.querySelector('meta[name="kp-live-events"]');
    if (!live || !url || !meta) { return; }
    var names = meta.getAttribute('content').split(',').filter(Boolean);
    if (live.stream) { live.stream.close(); }
    live.stream = live.connect(url, { events: names });
  }

  function start() {
    tickClocks();
    setInterval(tickClocks, 1000);
    document.body.addEventListener('htmx:afterSwap', tickClocks);
    document.addEventListener('kotapintar:event', onEvent);
    restartStream();
  }

  window.KotapintarUi = { tickClocks: tickClocks, formatLeft: formatLeft };

  if (document.readyState === 'complete') {
    start();
  } else {
    document.addEventListener('DOMContentLoaded', start);
  }
})();
