"""Repositories: the only place where SQL is written."""
