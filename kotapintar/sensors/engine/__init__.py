"""The pure sensor core: payload parsing, quality flags, rules, flood levels, rollups and CAP; no database."""
