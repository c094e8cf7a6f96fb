"""The shared base every feature stands on: settings, errors, access, events, database, hooks and HTTP."""
