#!/usr/bin/env bash
# Fetch the pinned front-end assets from the npm registry and copy only what the pages need
# (minified JS/CSS, Leaflet's marker images and every licence) into kotapintar/web/static/vendor/.
# Reproducible: exact versions, tarball integrity printed by `npm pack`. No CDN is ever referenced.
# Usage: scripts/vendor_assets.sh            (needs node/npm and network access to registry.npmjs.org)
set -euo pipefail

LEAFLET=1.9.4
MARKERCLUSTER=1.5.3
HTMX=2.0.11
HTMX_SSE=2.2.4
SWAGGER_UI=5.35.0

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/kotapintar/web/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "leaflet@$LEAFLET" "leaflet.markercluster@$MARKERCLUSTER" "htmx.org@$HTMX" \
  "htmx-ext-sse@$HTMX_SSE" "swagger-ui-dist@$SWAGGER_UI" >/dev/null
for tgz in *.tgz; do
  mkdir -p "${tgz%.tgz}" && tar xzf "$tgz" -C "${tgz%.tgz}"
done

rm -rf "$DEST/leaflet" "$DEST/leaflet.markercluster" "$DEST/htmx" "$DEST/htmx-ext-sse"
mkdir -p "$DEST/leaflet/images" "$DEST/leaflet.markercluster" "$DEST/htmx" "$DEST/htmx-ext-sse"

L="leaflet-$LEAFLET/package"
cp "$L/dist/leaflet.js" "$L/dist/leaflet.css" "$L/LICENSE" "$DEST/leaflet/"
cp "$L/dist/images/marker-icon.png" "$L/dist/images/marker-icon-2x.png" "$L/dist/images/marker-shadow.png" \
  "$L/dist/images/layers.png" "$L/dist/images/layers-2x.png" "$DEST/leaflet/images/"

M="leaflet.markercluster-$MARKERCLUSTER/package"
cp "$M/dist/leaflet.markercluster.js" "$M/dist/MarkerCluster.css" "$M/dist/MarkerCluster.Default.css" \
  "$DEST/leaflet.markercluster/"
cp "$M/MIT-LICENCE.txt" "$DEST/leaflet.markercluster/LICENSE"
# The minified bundle ends with a pointer to a source map we do not ship; drop it (404s otherwise).
sed -i '/^\/\/# sourceMappingURL=/d' "$DEST/leaflet.markercluster/leaflet.markercluster.js" "$DEST/leaflet/leaflet.js"

H="htmx.org-$HTMX/package"
cp "$H/dist/htmx.min.js" "$H/LICENSE" "$DEST/htmx/"

S="htmx-ext-sse-$HTMX_SSE/package"
cp "$S/dist/sse.min.js" "$S/LICENSE" "$DEST/htmx-ext-sse/"

# Swagger UI for /docs (issue 18), kept apart from the pages' assets (it is a developer tool of 1.9 MB, not
# part of any page): the app's CSP allows no outside host, so the CDN copy FastAPI links shows a blank page.
DOCS="$ROOT/kotapintar/core/http/docs_assets/swagger-ui"
rm -rf "$DOCS" && mkdir -p "$DOCS"
W="swagger-ui-dist-$SWAGGER_UI/package"
cp "$W/swagger-ui-bundle.js" "$W/swagger-ui.css" "$W/LICENSE" "$DOCS/"
[ -f "$W/NOTICE" ] && cp "$W/NOTICE" "$DOCS/"
sed -i '/^\/\/# sourceMappingURL=/d' "$DOCS/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=.*\*/##' "$DOCS/swagger-ui.css"
echo "swagger-ui-dist $SWAGGER_UI (Apache-2.0), fetched from the npm registry by scripts/vendor_assets.sh" \
  > "$DOCS/VERSION.txt"

cat > "$DEST/VERSIONS.txt" <<VERSIONS
leaflet $LEAFLET (BSD-2-Clause)
leaflet.markercluster $MARKERCLUSTER (MIT)
htmx.org $HTMX (0BSD)
htmx-ext-sse $HTMX_SSE (0BSD)
fetched from the npm registry by scripts/vendor_assets.sh
VERSIONS

echo "vendored into $DEST:"
du -ab "$DEST" | sort -k2
