"""Who may do what: roles and permissions, actors, users, sessions, tokens and API keys."""
