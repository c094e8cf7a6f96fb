"""Kotapintar."""
