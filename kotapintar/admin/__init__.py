"""Administration of one deployment: the set-up of a kabupaten/kota, its readiness, and the admin pages."""
