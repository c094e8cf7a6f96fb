"""The SOP engine: file format, validator, working-day calendar, pure decide() and rendering."""
