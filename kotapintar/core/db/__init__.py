"""The database: engine, units of work, column types, the declarative base and migrations."""
