"""Triage: classify report text (Indonesian), place it, find duplicates and route it to the responsible agency."""
