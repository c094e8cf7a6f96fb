"""The pure core: words, statuses, transitions and rules of Kotapintar, with no I/O."""
