"""Where a report is, from its words: a gazetteer of regions, agency offices and well-known places.

People write places as they say them: `ds. selat hulu`, `kec kapuas hilir`, `dpn pasar`, `jln pemuda`,
`sdn 2 selat`, often with a typo. The text is normalised (abbreviations expanded, punctuation dropped),
cut into windows of one to five words, and each window is matched against the names of the gazetteer
with rapidfuzz. The most precise confident match wins (a named place beats a desa beats a kecamatan).

Precision of the answer: `point` (a named place with its own point), `desa`, `kecamatan` or `unknown`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

PRECISION_RANK = {"point": 3, "desa": 2, "kecamatan": 1, "unknown": 0}

# Abbreviations people use for place words -> the full word (applied per token after lower-casing).
ABBREVIATIONS: dict[str, str] = {
    "ds": "desa",
    "dsa": "desa",
    "kel": "kelurahan",
    "kelur": "kelurahan",
    "kec": "kecamatan",
    "kcmtn": "kecamatan",
    "kab": "kabupaten",
    "jl": "jalan",
    "jln": "jalan",
    "jaln": "jalan",
    "gg": "gang",
    "psr": "pasar",
    "pkm": "puskesmas",
    "pusk": "puskesmas",
    "jemb": "jembatan",
    "jmbt": "jembatan",
    "jmbtn": "jembatan",
    "mesjid": "masjid",
    "msjd": "masjid",
    "sdn": "sd negeri",
    "smpn": "smp negeri",
    "sman": "sma negeri",
    "smkn": "smk negeri",
    "rsud": "rumah sakit umum daerah",
    "rs": "rumah sakit",
    "sei": "sungai",
    "sg": "sungai",
    "kt": "kota",
    "dpn": "depan",
    "dket": "dekat",
    "dkt": "dekat",
    "sblh": "sebelah",
    "blkg": "belakang",
    "pdam": "pdam",
    "kntr": "kantor",
    "ktr": "kantor",
}
# Words that mark the level of the name after them.
LEVEL_WORDS = {"desa": "desa", "kelurahan": "desa", "kecamatan": "kecamatan"}
# Desa names that are also everyday words: matched only right after `desa`/`kelurahan`.
COMMON_WORDS = frozenset(
    {"pantai", "manis", "pematang", "dandang", "pujon", "mampai", "tapen", "supang", "naning", "aruk"}
)
MAX_WINDOW = 5
MIN_SCORE = 88.0  # rapidfuzz ratio (0-100) a window must reach to count as the name
SHORT_NAME = 5  # names shorter than this must match exactly (`timpah` may fuzz, `aruk` may not)

_PUNCT = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")
_ROMAN = {"ii": "2", "iii": "3", "iv": "4"}


def normalise_place_text(text: str) -> str:
    """Lower-case, accents and punctuation removed, abbreviations expanded, `sungai` for `sei`."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = _PUNCT.sub(" ", text)
    # `sd2` -> `sd 2`, `km12` -> `km 12`
    text = re.sub(r"([a-z])(\d)", r"\1 \2", text)
    words = [ABBREVIATIONS.get(w, _ROMAN.get(w, w)) for w in _SPACES.split(text) if w]
    return " ".join(words)


@dataclass(frozen=True)
class GazetteerEntry:
    """One name the gazetteer knows, with where it points and how precise that point is."""

    name: str  # as shown to a person
    kind: str  # kecamatan | desa | sekolah | pasar | puskesmas | jembatan | jalan | kantor | ...
    precision: str  # point | desa | kecamatan
    lon: float
    lat: float
    region_code: str | None  # the region it belongs to (desa/kecamatan code), when known
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaceMatch:
    """The answer for one text: the place or region found (if any), its precision and match score."""

    precision: str  # point | desa | kecamatan | unknown
    name: str | None = None
    kind: str | None = None
    lon: float | None = None
    lat: float | None = None
    region_code: str | None = None
    score: float = 0.0
    matched: str | None = None  # the words of the report that matched

    @property
    def known(self) -> bool:
        """True when the text named a place the gazetteer knows."""
        return self.precision != "unknown"


UNKNOWN = PlaceMatch(precision="unknown")


def _keys_for(entry: GazetteerEntry) -> list[str]:
    """Normalised keys of an entry; a bare name that is an everyday word needs its level word."""
    names = [normalise_place_text(n) for n in (entry.name, *entry.aliases)]
    keys: list[str] = []
    for name in dict.fromkeys(n for n in names if n):
        bare_ok = " " in name or (name not in COMMON_WORDS and len(name) >= SHORT_NAME)
        if entry.kind == "desa":
            keys += [f"desa {name}", f"kelurahan {name}"]
        elif entry.kind == "kecamatan":
            keys.append(f"kecamatan {name}")
        else:
            bare_ok = True
        if bare_ok:
            keys.append(name)
    return keys


class Gazetteer:
    """Fuzzy lookup of place names in report text."""

    def __init__(self, entries: Iterable[GazetteerEntry], min_score: float = MIN_SCORE) -> None:
        self.entries: list[GazetteerEntry] = list(entries)
        self.min_score = min_score
        self._keys: list[str] = []
        self._owners: list[int] = []
        for i, entry in enumerate(self.entries):
            for key in _keys_for(entry):
                self._keys.append(key)
                self._owners.append(i)
        self._exact: dict[str, list[int]] = {}
        # Fuzzy candidates grouped by number of words: a window is compared with keys of its own length.
        self._by_words: dict[int, tuple[list[str], list[int]]] = {}
        for k, key in enumerate(self._keys):
            self._exact.setdefault(key, []).append(k)
            if len(key) >= SHORT_NAME:
                group = self._by_words.setdefault(key.count(" ") + 1, ([], []))
                group[0].append(key)
                group[1].append(k)
        self._max_words = min(MAX_WINDOW, max(self._by_words, default=1))

    def __len__(self) -> int:
        return len(self.entries)

    def _windows(self, words: list[str]) -> Iterable[tuple[str, int]]:
        for size in range(self._max_words, 0, -1):
            for start in range(0, len(words) - size + 1):
                yield " ".join(words[start : start + size]), size

    def match(self, text: str) -> PlaceMatch:
        """The most precise place named in `text`, or UNKNOWN."""
        words = normalise_place_text(text).split()
        if not words:
            return UNKNOWN
        best: tuple[tuple[int, float, int], PlaceMatch] | None = None
        for window, size in self._windows(words):
            if size == 1 and (len(window) < 3 or window in LEVEL_WORDS or window.isdigit()):
                continue
            hits = self._exact.get(window)
            candidates: list[tuple[int, float]]
            if hits:
                candidates = [(k, 100.0) for k in hits]
            elif len(window) >= SHORT_NAME and size in self._by_words:
                keys, ids = self._by_words[size]
                found = process.extract(window, keys, scorer=fuzz.ratio, score_cutoff=self.min_score, limit=3)
                candidates = [(ids[int(i)], float(score)) for _, score, i in found]
            else:
                candidates = []
            for k, score in candidates:
                entry = self.entries[self._owners[k]]
                rank = (PRECISION_RANK[entry.precision], score, len(self._keys[k]))
                if best is None or rank > best[0]:
                    best = (
                        rank,
                        PlaceMatch(
                            precision=entry.precision,
                            name=entry.name,
                            kind=entry.kind,
                            lon=entry.lon,
                            lat=entry.lat,
                            region_code=entry.region_code,
                            score=score / 100.0,
                            matched=window,
                        ),
                    )
        return best[1] if best is not None else UNKNOWN
