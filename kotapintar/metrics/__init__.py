"""Response times and agency performance computed from the event log (pure functions)."""
