"""Composition only: the web application, the CLI root and the wiring of the features' hooks; nothing imports it."""
