/* Kotapintar map module: Leaflet map with NO tiles by default (the region boundaries are the offline
 * base layer), case markers clustered and coloured by priority, live upsert/remove by id, and a
 * "pick a point" mode for forms. Plain ES2017, no build step. Options come from data-* attributes:
 *   data-kp-map                 auto-initialise this element on DOMContentLoaded
 *   data-boundaries-url         GeoJSON of regions (properties: code|kode, name|nama,
 *                               level kabupaten|kecamatan|desa, optional label_point [lon, lat])
 *   data-cases-url              GeoJSON FeatureCollection of cases (properties: id, priority, status, title, url)
 *   data-tile-url               optional tile URL template (then allow its host in the CSP)
 *   data-tile-attribution       text for the optional tiles
 *   data-center="lon,lat"       data-zoom="11"
 *   data-live="1"               apply `kotapintar:event` details carrying `feature` / `remove_id`
 *   data-pick="1"               pick mode: data-pick-lon / data-pick-lat (input selectors),
 *                               data-locate-button, data-pick-status, data-msg-* texts
 * Coordinates are (lon, lat) everywhere outside Leaflet, which wants [lat, lon]. */
(function () {
  'use strict';

  var PRIORITIES = ['P1', 'P2', 'P3', 'P4'];
  var FINAL_STATUSES = { closed: true, rejected: true, merged: true };
  var DEFAULT_CENTER = [114.39, -2.2]; // lon, lat: Kabupaten Kapuas (demo city)
  var LABEL_MIN_ZOOM = 9;
  var instances = typeof WeakMap === 'function' ? new WeakMap() : null;

  function reducedMotion() {
    return !!(window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches);
  }

  function priorityRank(priority) {
    var rank = PRIORITIES.indexOf(String(priority || '').toUpperCase());
    return rank < 0 ? PRIORITIES.length - 1 : rank;
  }

  function parseLonLat(text) {
    if (!text) { return null; }
    var parts = String(text).split(',').map(Number);
    if (parts.length !== 2 || !isFinite(parts[0]) || !isFinite(parts[1])) { return null; }
    return parts;
  }

  function regionLevel(props) {
    if (props.level) { return String(props.level); }
    var depth = String(props.code || props.kode || '').split('.').length;
    return depth <= 2 ? 'kabupaten' : depth === 3 ? 'kecamatan' : 'desa';
  }

  function fetchJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/geo+json, application/json' } })
      .then(function (response) {
        if (!response.ok) { throw new Error('HTTP ' + response.status + ' for ' + url); }
        return response.json();
      });
  }

  function markerIcon(props) {
    var rank = priorityRank(props.priority);
    var size = rank === 0 ? 22 : 16;
    var cls = 'kp-marker kp-marker-' + PRIORITIES[rank].toLowerCase();
    if (FINAL_STATUSES[props.status]) { cls += ' is-final'; }
    return L.divIcon({ className: cls, html: '', iconSize: [size, size], iconAnchor: [size / 2, size / 2] });
  }

  function clusterIcon(cluster) {
    var children = cluster.getAllChildMarkers();
    var best = PRIORITIES.length - 1;
    for (var i = 0; i < children.length && best > 0; i++) {
      var rank = children[i].options.kpRank;
      if (rank < best) { best = rank; }
    }
    var count = cluster.getChildCount();
    var size = count < 10 ? 32 : count < 100 ? 38 : count < 1000 ? 44 : 52;
    return L.divIcon({
      className: 'kp-cluster kp-cluster-' + PRIORITIES[best].toLowerCase(),
      html: '<span>' + count + '</span>',
      iconSize: [size, size]
    });
  }

  function popupContent(props) {
    var box = document.createElement('div');
    var title = document.createElement(props.url ? 'a' : 'span');
    title.className = 'kp-popup-title';
    title.textContent = props.title || props.ticket || String(props.id);
    if (props.url) { title.href = props.url; }
    box.appendChild(title);
    var meta = document.createElement('span');
    meta.textContent = [props.priority, props.status_label || props.status].filter(Boolean).join(' · ');
    box.appendChild(meta);
    return box;
  }

  /* One map on one element. */
  function KpMap(el, options) {
    options = options || {};
    var data = el.dataset;
    this.el = el;
    this.markers = {};
    this.pickMarker = null;
    var center = options.center || parseLonLat(data.center) || DEFAULT_CENTER;
    var zoom = options.zoom || Number(data.zoom) || 9;
    var animate = !reducedMotion();
    this.map = L.map(el, {
      minZoom: 4,
      maxZoom: 19, // markercluster needs a maxZoom, and there may be no tile layer to provide one
      zoomAnimation: animate,
      fadeAnimation: animate,
      markerZoomAnimation: animate,
      attributionControl: true
    }).setView([center[1], center[0]], zoom);
    this.map.attributionControl.setPrefix('Leaflet');
    this.fitOnLoad = !(options.center || data.center);

    var tileUrl = options.tileUrl || data.tileUrl;
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: options.tileAttribution || data.tileAttribution || '' })
        .addTo(this.map);
    }

    var self = this;
    this._removeLater = [];
    this.boundaries = L.featureGroup().addTo(this.map);
    this.cluster = L.markerClusterGroup({
      chunkedLoading: true,
      chunkInterval: 150,
      chunkDelay: 40,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      maxClusterRadius: 60,
      animate: animate,
      iconCreateFunction: clusterIcon,
      chunkProgress: function (processed, total) {
        if (processed >= total) { self._flushRemovals(); }
      }
    }).addTo(this.map);

    this.map.on('zoomend', function () { self._toggleLabels(); });
    this._toggleLabels();

    var boundariesUrl = options.boundariesUrl || data.boundariesUrl;
    if (boundariesUrl) { this.loadBoundaries(boundariesUrl); }
    var casesUrl = options.casesUrl || data.casesUrl;
    if (casesUrl) { this.loadCases(casesUrl); }
    if (options.live || data.live === '1') { this.bindLive(); }
    if (options.pick || data.pick === '1') { this.enablePicking(options.pickOptions || {}); }
  }

  KpMap.prototype._toggleLabels = function () {
    var hide = this.map.getZoom() < LABEL_MIN_ZOOM;
    this.el.classList.toggle('kp-labels-hidden', hide);
  };

  /* Draw region boundaries (kabupaten outline, kecamatan lines and labels, desa lines) from a URL. */
  KpMap.prototype.loadBoundaries = function (url) {
    var self = this;
    return fetchJson(url).then(function (geojson) { self.setBoundaries(geojson); return geojson; });
  };

  KpMap.prototype.setBoundaries = function (geojson) {
    var self = this;
    this.boundaries.clearLayers();
    var layer = L.geoJSON(geojson, {
      interactive: false,
      style: function (feature) {
        return { className: 'kp-boundary-' + regionLevel(feature.properties || {}) };
      },
      onEachFeature: function (feature, path) {
        var props = feature.properties || {};
        var name = props.name || props.nama;
        if (regionLevel(props) !== 'kecamatan' || !name) { return; }
        var point = props.label_point;
        var at = point ? L.latLng(point[1], point[0]) : path.getBounds().getCenter();
        L.tooltip({ permanent: true, direction: 'center', className: 'kp-region-label', interactive: false })
          .setLatLng(at).setContent(String(name)).addTo(self.boundaries);
      }
    });
    // kabupaten first so kecamatan lines are drawn on top of its fill
    var ordered = layer.getLayers().sort(function (a, b) {
      var order = { kabupaten: 0, kecamatan: 2, desa: 1 };
      return (order[regionLevel(a.feature.properties || {})] || 0) - (order[regionLevel(b.feature.properties || {})] || 0);
    });
    ordered.forEach(function (item) { self.boundaries.addLayer(item); });
    if (this.fitOnLoad && ordered.length) { this.map.fitBounds(this.boundaries.getBounds(), { padding: [8, 8] }); }
  };

  KpMap.prototype._makeMarker = function (feature) {
    var props = feature.properties || {};
    var coords = feature.geometry && feature.geometry.coordinates;
    if (!coords || coords.length < 2 || props.id === undefined || props.id === null) { return null; }
    var marker = L.marker([coords[1], coords[0]], {
      icon: markerIcon(props),
      title: props.title || String(props.id),
      alt: props.title || String(props.id),
      keyboard: true,
      riseOnHover: true,
      kpRank: priorityRank(props.priority),
      kpId: String(props.id)
    });
    marker.feature = feature;
    marker.bindPopup(function () { return popupContent(marker.feature.properties || {}); });
    return marker;
  };

  /* Fetch a FeatureCollection of cases and show it (replacing the current markers). */
  KpMap.prototype.loadCases = function (url) {
    var self = this;
    return fetchJson(url).then(function (geojson) { self.setCases(geojson); return geojson; });
  };

  /* Replace all case markers; added in chunks so 10,000 markers do not freeze the page. */
  KpMap.prototype.setCases = function (geojson) {
    this.cluster.clearLayers();
    this.markers = {};
    this._removeLater = [];
    var features = (geojson && geojson.features) || [];
    var batch = [];
    for (var i = 0; i < features.length; i++) {
      var marker = this._makeMarker(features[i]);
      if (!marker) { continue; }
      var id = marker.options.kpId;
      if (this.markers[id]) { continue; }
      this.markers[id] = marker;
      batch.push(marker);
    }
    this.cluster.addLayers(batch);
    return batch.length;
  };

  /* Add a case marker, or move/recolour the existing one with the same properties.id. */
  KpMap.prototype.upsertCase = function (feature) {
    var fresh = this._makeMarker(feature);
    if (!fresh) { return false; }
    var id = fresh.options.kpId;
    var old = this.markers[id];
    if (old && !this.cluster.hasLayer(old)) {
      // still queued by chunked loading: update it in place, the queue adds it with the new values
      old.setLatLng(fresh.getLatLng());
      old.setIcon(fresh.options.icon);
      old.options.kpRank = fresh.options.kpRank;
      old.feature = fresh.feature;
      return true;
    }
    if (old) { this.cluster.removeLayer(old); }
    this.markers[id] = fresh;
    this.cluster.addLayer(fresh);
    return true;
  };

  /* Remove a case marker by id; true when there was one. */
  KpMap.prototype.removeCase = function (id) {
    var key = String(id);
    var marker = this.markers[key];
    if (!marker) { return false; }
    if (this.cluster.hasLayer(marker)) {
      this.cluster.removeLayer(marker);
    } else {
      this._removeLater.push(marker); // queued by chunked loading: remove once the queue is done
    }
    delete this.markers[key];
    return true;
  };

  KpMap.prototype._flushRemovals = function () {
    var pending = this._removeLater || [];
    this._removeLater = [];
    if (pending.length) { this.cluster.removeLayers(pending); }
  };

  KpMap.prototype.hasCase = function (id) { return Object.prototype.hasOwnProperty.call(this.markers, String(id)); };
  KpMap.prototype.caseCount = function () { return Object.keys(this.markers).length; };

  /* Apply one live event: `{feature: GeoJSON Feature}` upserts, `{remove_id: id}` removes. */
  KpMap.prototype.handleEvent = function (detail) {
    if (!detail) { return; }
    if (detail.remove_id !== undefined && detail.remove_id !== null) { this.removeCase(detail.remove_id); }
    if (detail.feature && detail.feature.type === 'Feature') { this.upsertCase(detail.feature); }
  };

  KpMap.prototype.bindLive = function () {
    var self = this;
    if (this._liveHandler) { return; }
    this._liveHandler = function (event) { self.handleEvent(event.detail); };
    document.addEventListener('kotapintar:event', this._liveHandler);
  };

  function resolveInput(ref) {
    if (!ref) { return null; }
    return typeof ref === 'string' ? document.querySelector(ref) : ref;
  }

  /* Pick mode: a click (or the locate button) sets one point and writes lon/lat into the inputs. */
  KpMap.prototype.enablePicking = function (opts) {
    var data = this.el.dataset;
    var self = this;
    this.lonInput = resolveInput(opts.lonInput || data.pickLon);
    this.latInput = resolveInput(opts.latInput || data.pickLat);
    this.statusEl = resolveInput(opts.statusEl || data.pickStatus);
    this.sourceInput = resolveInput(opts.sourceInput || data.pickSource);
    this.accuracyInput = resolveInput(opts.accuracyInput || data.pickAccuracy);
    var button = resolveInput(opts.locateButton || data.locateButton);
    this.map.on('click', function (event) {
      self.setPoint(event.latlng.lng, event.latlng.lat, { pan: false, source: 'map' });
    });
    var fromInputs = function () {
      var lon = self.lonInput && parseFloat(self.lonInput.value);
      var lat = self.latInput && parseFloat(self.latInput.value);
      if (isFinite(lon) && isFinite(lat)) { self.setPoint(lon, lat, { write: false }); }
    };
    [this.lonInput, this.latInput].forEach(function (input) {
      if (input) { input.addEventListener('change', fromInputs); }
    });
    fromInputs();
    if (button) {
      button.addEventListener('click', function () { self.locate(); });
    }
  };

  KpMap.prototype._status = function (text) {
    if (this.statusEl) { this.statusEl.textContent = text || ''; }
  };

  /* Put the pick marker at (lon, lat); writes the inputs unless opts.write === false. */
  KpMap.prototype.setPoint = function (lon, lat, opts) {
    opts = opts || {};
    var latlng = L.latLng(lat, lon);
    if (!this.pickMarker) {
      this.pickMarker = L.marker(latlng, {
        draggable: true,
        icon: L.divIcon({ className: 'kp-pick-marker', html: '', iconSize: [22, 22], iconAnchor: [11, 11] })
      }).addTo(this.map);
      var self = this;
      this.pickMarker.on('dragend', function () {
        var at = self.pickMarker.getLatLng();
        self.setPoint(at.lng, at.lat, { pan: false, source: 'map' });
      });
    } else {
      this.pickMarker.setLatLng(latlng);
    }
    if (opts.write !== false) {
      this._write(this.lonInput, lon);
      this._write(this.latInput, lat);
    }
    /* Record where the point came from (GPS with its stated accuracy, or a pick on the map). */
    if (opts.source && this.sourceInput) { this.sourceInput.value = opts.source; }
    if (opts.source && this.accuracyInput) {
      this.accuracyInput.value = isFinite(opts.accuracy) ? String(Math.round(opts.accuracy * 10) / 10) : '';
    }
    if (opts.pan !== false) { this.map.setView(latlng, Math.max(this.map.getZoom(), opts.zoom || 15)); }
  };

  KpMap.prototype._write = function (input, value) {
    if (!input) { return; }
    input.value = Number(value).toFixed(6);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  };

  /* Ask the device for its position (after a button press, never on page load). */
  KpMap.prototype.locate = function () {
    var data = this.el.dataset;
    var self = this;
    if (!navigator.geolocation) { this._status(data.msgLocationUnsupported || ''); return; }
    this._status(data.msgLocating || '');
    navigator.geolocation.getCurrentPosition(function (position) {
      self._status('');
      self.setPoint(position.coords.longitude, position.coords.latitude,
        { zoom: 16, source: 'gps', accuracy: position.coords.accuracy });
    }, function () {
      self._status(data.msgLocationFailed || '');
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  };

  KpMap.prototype.destroy = function () {
    if (this._liveHandler) { document.removeEventListener('kotapintar:event', this._liveHandler); }
    this.map.remove();
    if (instances) { instances.delete(this.el); }
  };

  function create(el, options) {
    if (typeof el === 'string') { el = document.querySelector(el); }
    if (!el) { throw new Error('KotapintarMap.create: element not found'); }
    var existing = get(el);
    if (existing) { return existing; }
    var instance = new KpMap(el, options);
    if (instances) { instances.set(el, instance); }
    el.kotapintarMap = instance;
    return instance;
  }

  function get(el) {
    if (typeof el === 'string') { el = document.querySelector(el); }
    if (!el) { return null; }
    return (instances && instances.get(el)) || el.kotapintarMap || null;
  }

  /* Initialise every [data-kp-map] inside root (also called after htmx swaps). */
  function init(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = scope.querySelectorAll('[data-kp-map]');
    var made = [];
    for (var i = 0; i < found.length; i++) { made.push(create(found[i])); }
    return made;
  }

  window.KotapintarMap = {
    create: create,
    get: get,
    init: init,
    priorityRank: priorityRank,
    PRIORITIES: PRIORITIES
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { init(document); });
  } else {
    init(document);
  }
  document.addEventListener('htmx:load', function (event) {
    if (event.target && event.target !== document.body) { init(event.target.parentNode || document); }
  });
})();
