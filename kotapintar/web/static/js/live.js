/* Kotapintar live updates: subscribe to a Server-Sent Events URL and re-dispatch every message as a DOM
 * CustomEvent `kotapintar:event` (detail = the parsed JSON) on document. EventSource resumes by itself
 * (sending Last-Event-ID); if the server closes the stream for good, we reconnect with back-off and pass
 * the last id as ?last_event_id=. A P1 case (detail.priority === 'P1' and detail.type is case_created
 * or priority_changed, or detail.alert === true) flashes the [data-live-banner] and beeps (WebAudio,
 * no audio file) once sound is enabled by a user gesture ([data-live-sound-toggle] button or any click).
 * Auto-start: <body data-live-url="/stream" [data-live-events="case,unit"]>. Plain ES2017, no build. */
(function () {
  'use strict';

  var ALERT_TYPES = { case_created: true, priority_changed: true };
  var audioContext = null;
  var soundEnabled = false;

  function dispatch(detail, sseId) {
    var event = new CustomEvent('kotapintar:event', { detail: detail, bubbles: true });
    event.sseId = sseId || null;
    document.dispatchEvent(event);
  }

  function withLastId(url, lastId) {
    if (!lastId) { return url; }
    var sep = url.indexOf('?') < 0 ? '?' : '&';
    return url + sep + 'last_event_id=' + encodeURIComponent(lastId);
  }

  function setStatus(text) {
    var el = document.querySelector('[data-live-status]');
    if (el && text !== undefined) { el.textContent = text; }
  }

  /* Open a stream; returns {close(), source()}. opts.events: extra named SSE event types to listen to. */
  function connect(url, opts) {
    opts = opts || {};
    var names = ['message'].concat(opts.events || []);
    var body = document.body ? document.body.dataset : {};
    var lastId = null;
    var source = null;
    var closed = false;
    var delay = 1000;
    var timer = null;

    function onMessage(message) {
      if (message.lastEventId) { lastId = message.lastEventId; }
      var detail;
      try { detail = JSON.parse(message.data); } catch (err) { return; }
      if (detail && typeof detail === 'object' && !detail.type && message.type !== 'message') {
        detail.type = message.type;
      }
      dispatch(detail, message.lastEventId);
    }

    function open() {
      if (closed) { return; }
      source = new EventSource(withLastId(url, lastId));
      names.forEach(function (name) { source.addEventListener(name, onMessage); });
      source.onopen = function () { delay = 1000; setStatus(body.msgLiveConnected); };
      source.onerror = function () {
        setStatus(body.msgLiveReconnecting);
        if (source.readyState === EventSource.CLOSED && !closed) {
          timer = setTimeout(open, delay);
          delay = Math.min(delay * 2, 30000);
        }
      };
    }

    open();
    return {
      close: function () { closed = true; clearTimeout(timer); if (source) { source.close(); } },
      source: function () { return source; }
    };
  }

  /* Unlock WebAudio; browsers allow it only from a user gesture. */
  function enableSound() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return false; }
    if (!audioContext) { audioContext = new Ctx(); }
    if (audioContext.state === 'suspended') { audioContext.resume(); }
    soundEnabled = true;
    return true;
  }

  /* A short three-pulse beep (880 Hz). Silent until enableSound() ran in a user gesture. */
  function beep(opts) {
    opts = opts || {};
    if (!soundEnabled || !audioContext) { return false; }
    var pulses = opts.pulses || 3;
    var start = audioContext.currentTime + 0.02;
    for (var i = 0; i < pulses; i++) {
      var osc = audioContext.createOscillator();
      var gain = audioContext.createGain();
      var t = start + i * 0.25;
      osc.type = 'square';
      osc.frequency.value = opts.frequency || 880;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(opts.volume || 0.2, t + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.15);
      osc.connect(gain).connect(audioContext.destination);
      osc.start(t);
      osc.stop(t + 0.16);
    }
    return true;
  }

  /* Show text in the [data-live-banner] (role=alert), flashing, hidden again after opts.seconds (20). */
  function flashBanner(text, opts) {
    opts = opts || {};
    var banner = document.querySelector('[data-live-banner]');
    if (!banner) { return false; }
    banner.textContent = text;
    banner.hidden = false;
    banner.classList.remove('is-flashing');
    void banner.offsetWidth; // restart the animation
    banner.classList.add('is-flashing');
    clearTimeout(banner._kpTimer);
    banner._kpTimer = setTimeout(function () { banner.hidden = true; }, (opts.seconds || 20) * 1000);
    return true;
  }

  function isP1Alert(detail) {
    if (!detail || typeof detail !== 'object') { return false; }
    if (detail.alert === true) { return true; }
    var priority = detail.priority || (detail.payload && detail.payload.priority) || '';
    return String(priority).toUpperCase() === 'P1' && !!ALERT_TYPES[detail.type];
  }

  function alertText(detail) {
    var banner = document.querySelector('[data-live-banner]');
    var template = (banner && banner.dataset.msgP1) || '{title}';
    var title = detail.title || detail.ticket || (detail.case_id !== undefined ? String(detail.case_id) : '');
    return template.replace('{title}', title);
  }

  document.addEventListener('kotapintar:event', function (event) {
    if (isP1Alert(event.detail)) {
      flashBanner(alertText(event.detail));
      beep();
    }
  });

  function start() {
    var banner = document.querySelector('[data-live-banner]');
    if (banner) { banner.addEventListener('click', function () { banner.hidden = true; }); }
    var toggles = document.querySelectorAll('[data-live-sound-toggle]');
    for (var i = 0; i < toggles.length; i++) {
      toggles[i].hidden = false;
      toggles[i].addEventListener('click', function (e) {
        enableSound();
        e.currentTarget.setAttribute('aria-pressed', 'true');
      });
    }
    document.addEventListener('pointerdown', enableSound, { once: true });
    var url = document.body && document.body.dataset.liveUrl;
    if (url) {
      var events = (document.body.dataset.liveEvents || '').split(',').map(function (s) { return s.trim(); })
        .filter(Boolean);
      window.KotapintarLive.stream = connect(url, { events: events });
    }
  }

  window.KotapintarLive = {
    connect: connect,
    beep: beep,
    enableSound: enableSound,
    flashBanner: flashBanner,
    isP1Alert: isP1Alert,
    stream: null
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
