"""Open311 GeoReport v2: the server, its formats and the sync with partner systems such as FixMyStreet."""
