"""Kotapintar: an open-source command center for Indonesian kabupaten/kota."""

__version__ = "0.1.0"
