"""City sensors: payload parsing, normalisation, quality flags, rules as data, rollups, CAP warnings, demo data."""
