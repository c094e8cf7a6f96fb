"""Urgency of a report: the service's default priority, raised by life-threat and severity cues in the text.

The rule (also in kotapintar/triage/data/LABELLING.md):

1. Start from the service's default priority (the contract table in ``DEFAULT_PRIORITY``).
2. A life-threat cue (someone trapped, drowning, swept away, unconscious, a missing child, a fire that
   is growing, a victim, ...) raises the urgency to **P1**, whatever the category.
3. Otherwise a severity cue (``bahaya``, ``parah``, ``meluas``, ``makin tinggi``, elderly or babies
   affected, ...) raises the urgency by one step, but never above **P2**.
4. A cue that is negated just before it (``tidak ada korban``, ``belum ada yang terjebak``, ``tanpa
   korban``) does not count.
5. Urgency is never lowered below the default: a fire is P1 even when the text sounds calm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kotapintar.cases.lifecycle import Priority
from kotapintar.catalog import codes as catalogue
from kotapintar.triage.classify.normalise import normalise

SERVICE_CODES: tuple[str, ...] = catalogue.SERVICE_CODES

DEFAULT_PRIORITY: dict[str, Priority] = {
    "kebakaran": Priority.P1, "karhutla": Priority.P1, "banjir": Priority.P2, "kecelakaan": Priority.P1,
    "darurat_medis": Priority.P1, "pencarian_pertolongan": Priority.P1, "kriminalitas": Priority.P2,
    "pohon_tumbang": Priority.P2, "jalan_rusak": Priority.P3, "jembatan_rusak": Priority.P2,
    "lampu_jalan": Priority.P4, "drainase": Priority.P3, "sampah": Priority.P3, "air_bersih": Priority.P3,
    "listrik_padam": Priority.P3, "ketertiban_umum": Priority.P3, "lalu_lintas": Priority.P3,
    "kesehatan_lingkungan": Priority.P3, "adminduk": Priority.P4, "bansos": Priority.P4,
    "pendidikan": Priority.P4, "lainnya": Priority.P4,
}  # fmt: skip

# Life-threat cues, as regular expressions over the *normalised* text (slang already expanded).
# Each entry: (label reported to the operator, pattern).
LIFE_CUES: tuple[tuple[str, str], ...] = (
    ("terjebak", r"\b(terjebak|terperangkap|terkurung)\b"),
    ("korban", r"\bkorban\b(?! (banjir|kebakaran|pencurian|penipuan|begal|jambret|maling)\b)"),
    ("tidak sadarkan diri", r"\b(tidak sadarkan diri|tidak sadar|pingsan|kejang)\b"),
    ("api membesar", r"\bapi (makin |semakin |sudah |mulai )?(membesar|besar sekali|merambat|menjalar)\b"),
    ("hanyut", r"\b(hanyut|terseret arus|terbawa arus)\b"),
    ("tenggelam", r"\b(tenggelam|terbalik|kecebur|tercebur)\b"),
    ("anak hilang", r"\b(anak|balita|bocah|orang|warga|nelayan|lansia|kakek|nenek)( \w+)? (hilang|belum pulang|tidak pulang)\b"),
    ("meninggal", r"\b(meninggal|tewas|mayat|jenazah|tidak bernyawa|wafat)\b"),
    ("pendarahan", r"\b(berdarah|pendarahan|perdarahan|darah banyak|banyak darah)\b"),
    ("sesak napas", r"\b(sesak napas|sesak nafas|tidak bisa bernapas|tidak bisa bernafas|tidak bernapas)\b"),
    ("kesetrum", r"\b(kesetrum|tersetrum|tersengat listrik|kena setrum)\b"),
    ("tertimpa", r"\b(tertimpa|terhimpit|tertindih)\b"),
    ("kritis", r"\b(kritis|sekarat|luka parah|luka berat|patah tulang|gegar otak)\b"),
    ("minta tolong", r"\b(minta tolong|teriak tolong|tolong tolong)\b"),
    ("ditusuk/dibacok", r"\b(ditusuk|dibacok|ditikam|ditembak|sajam|senjata tajam|parang)\b"),
    ("serangan jantung/stroke", r"\b(serangan jantung|stroke|melahirkan|ketuban pecah)\b"),
    ("ular berbisa", r"\b(digigit ular|dipatuk ular|ular berbisa)\b"),
    ("buaya", r"\b(diterkam buaya|digigit buaya|diserang buaya|disambar buaya)\b"),
)  # fmt: skip

# Strong-but-not-life cues: raise one step, at most to P2.
SEVERE_CUES: tuple[tuple[str, str], ...] = (
    ("bahaya", r"\b(bahaya|berbahaya|membahayakan|rawan)\b"),
    ("parah", r"\b(parah|sangat parah|hancur|ambruk|roboh|ambles|amblas|putus total)\b"),
    ("meluas", r"\b(meluas|makin tinggi|semakin tinggi|terus naik|naik terus|makin parah|semakin parah)\b"),
    ("rentan", r"\b(lansia|bayi|balita|ibu hamil|disabilitas|orang sakit)\b"),
    ("mengungsi", r"\b(mengungsi|evakuasi|pengungsi)\b"),
    ("luka", r"\b(luka|terluka|lecet|cedera)\b"),
    ("darurat", r"\b(darurat|gawat|urgent|urgen|cepat tolong|segera tolong)\b"),
    ("kabel menjuntai", r"\b(kabel (listrik )?(putus|menjuntai|jatuh|terkelupas)|percikan api|korsleting)\b"),
)  # fmt: skip

_NEGATION = re.compile(r"\b(tidak ada|tidak|belum ada|belum|tanpa|bukan|nihil)( \w+){0,2} $")

_LIFE = tuple((label, re.compile(pattern)) for label, pattern in LIFE_CUES)
_SEVERE = tuple((label, re.compile(pattern)) for label, pattern in SEVERE_CUES)


@dataclass(frozen=True)
class UrgencyAssessment:
    """The urgency of one report and why: the cues that raised it above the service default."""

    priority: Priority
    default: Priority
    life_cues: tuple[str, ...]
    severe_cues: tuple[str, ...]

    @property
    def cues(self) -> list[str]:
        """All cues found, life-threatening first."""
        return [*self.life_cues, *self.severe_cues]


def _find(patterns: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> tuple[str, ...]:
    found: list[str] = []
    for label, pattern in patterns:
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 30) : match.start()]
            if _NEGATION.search(before):
                continue
            found.append(label)
            break
    return tuple(found)


def find_cues(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The life-threat and the severity cues in a report text (raw or normalised), negations ignored."""
    norm = normalise(text)
    return _find(_LIFE, norm), _find(_SEVERE, norm)


def raise_priority(priority: Priority, steps: int = 1, ceiling: Priority = Priority.P1) -> Priority:
    """`priority` made more urgent by `steps`, never above `ceiling`; never less urgent than it was."""
    rank = max(priority.rank - steps, ceiling.rank)
    return Priority(f"P{min(rank, priority.rank)}")


def assess_urgency(service: str, text: str) -> UrgencyAssessment:
    """Apply the urgency rule (module docstring) to a report classified as `service`."""
    default = DEFAULT_PRIORITY.get(service, Priority.P4)
    life, severe = find_cues(text)
    if life:
        priority = Priority.P1
    elif severe:
        priority = raise_priority(default, 1, ceiling=Priority.P2)
    else:
        priority = default
    return UrgencyAssessment(priority=priority, default=default, life_cues=life, severe_cues=severe)
