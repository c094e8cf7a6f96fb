"""City sensors: devices, ingest, rules, alarms and early warnings; the pure core is in engine/."""
