"""The public portal's filters: one value the list, the map, the feeds and the repository share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

MAX_WORDS = 8
MAX_WORD_CHARS = 40
_WORD = re.compile(r"\w+", re.UNICODE)


def search_words(text: str | None) -> tuple[str, ...]:
    """The words of a search box, lower-cased: letters and digits only, so no query syntax leaks through."""
    words = [w.lower()[:MAX_WORD_CHARS] for w in _WORD.findall(text or "") if w.strip("_")]
    return tuple(dict.fromkeys(w.strip("_") for w in words))[:MAX_WORDS]


@dataclass(frozen=True)
class PortalFilter:
    """What a citizen narrowed the public list to; every field is optional and all of them combine (AND)."""

    service: str | None = None
    kecamatan: str | None = None
    desa: str | None = None
    statuses: tuple[str, ...] = ()
    created_from: datetime | None = None  # aware, inclusive
    created_to: datetime | None = None  # aware, exclusive
    words: tuple[str, ...] = ()
    ticket: str | None = None  # the search box held something shaped like a ticket number
