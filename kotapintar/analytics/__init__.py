"""Accountability analytics: the SQL aggregates behind every figure, and the /analitik pages (issue 15)."""
