"""Smart-city indicators (issue 15, item 7): a registry as data, figures computed from Kotapintar's own data
through the analytics service, and figures a city already has (BPS-style) imported from CSV."""
