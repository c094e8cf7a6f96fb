"""Urgency of a report read from its words in context: who is at risk, from what, and whether it is *now*.

A life threat needs a hazard **and** people at risk **now**. The rule (also in LABELLING.md and
docs/triage.md), applied per clause of the text so that one sentence about last year does not silence
another about tonight:

1. **Life cues** (someone trapped, unconscious, drowning, swept away, missing, bleeding, not breathing,
   electrocuted, crushed, attacked with a weapon, giving birth, bitten by a snake ...) make a report P1,
   whatever its category.
2. **Hazard + people**: a fire or a flood happening now together with people at risk in the same text
   (trapped, cannot get out, on the roof, elderly, sick, babies and children, "tolong", no food) is P1.
   A fire burning now is P1 on its own (fires grow; the contract's default for fire is P1).
3. A cue does **not** count when it is
   - negated just before it ("tidak ada korban", "belum ada yang terjebak", "tanpa korban");
   - hypothetical: "rawan", "bisa membahayakan", "takut", "sebelum ada korban", "kalau ada kebakaran"
     in the few words before it;
   - in the past or the future: a clause with a year ("tahun 2017"), "pernah", "dulu", "minggu lalu",
     "kemarin" (but not "sejak kemarin": still going on), "sudah padam", "besok", "jadwal" ...;
   - a disease name rather than an injury: "demam berdarah"/"DBD" is not "berdarah";
   - a polite formula: "minta tolong diperbaiki" is not a cry for help (only "teriak minta tolong",
     "tolong tolong", or "tolong" together with a hazard now counts).
4. **Severity cues** (bahaya, parah, meluas, lansia/bayi affected, mengungsi, luka, kabel menjuntai)
   raise one step, at most to P2, and are shown to the operator.
5. ``not_now`` is true when the text names an emergency (fire, flood, accident, drowning, ambulance ...)
   but every mention is past, hypothetical or negated: then an emergency service's default P1 does not
   apply (see priority.py). ``no_victims`` marks an accident explicitly without victims.

Every cue that fires keeps the words it matched in the reporter's own spelling, so the operator sees
*why* ("terjebak: ga bisa keluar").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kotapintar.cases.lifecycle import Priority
from kotapintar.catalog import codes as catalogue
from kotapintar.triage.classify.normalise import SLANG, basic_clean, squeeze

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

_PEOPLE = r"(anak|anaknya|balita|bocah|orang|warga|nelayan|lansia|kakek|nenek|bapak|ibu|penumpang|pemancing|suami|istri|adik|kakak)"

# Life-threat cues over the normalised text (slang expanded). Each: (label shown to the operator, pattern).
LIFE_CUES: tuple[tuple[str, str], ...] = (
    ("terjebak", r"\b(terjebak|terperangkap|terkurung|terjepit|tidak bisa keluar|belum bisa keluar|dia tahu keluar)\b"),
    ("korban", r"\bkorban\b(?! (banjir|kebakaran|pencurian|penipuan|begal|jambret|maling|bencana)\b)"),
    ("tidak sadarkan diri", r"\b(tidak sadarkan diri|tidak sadar|pingsan|kejang|tidak bergerak|tidak gerak|tergeletak|terkapar|tidak bangun)\b"),
    ("api membesar", r"\bapi(nya)? (makin |semakin |sudah |mulai )?(membesar|besar sekali|merambat|menjalar|nyambar|menyambar)\b"),
    ("hanyut", r"\b(hanyut|terseret arus|terbawa arus)\b"),
    ("tenggelam", r"\b(tenggelam|terbalik|tercebur|jatuh ke (sungai|air|sumur|laut|parit)|terlempar ke (air|sungai)|tidak muncul lagi)\b"),
    ("orang hilang", rf"\b{_PEOPLE}( \w+){{0,6}} (hilang|belum pulang|tidak pulang|belum kembali|belum ditemukan|belum ketemu|tersesat)\b"),
    ("belum ditemukan", r"\b(belum ditemukan|belum ketemu|tersesat)\b"),
    ("meninggal", r"\b(meninggal|tewas|mayat|jenazah|tidak bernyawa|wafat)\b"),
    ("pendarahan", r"\b((?<!demam )berdarah|pendarahan|perdarahan|darah banyak|banyak darah|darah dimana|kepalanya bocor|bersimbah darah)\b"),
    ("sesak napas", r"\b(sesak napas|sesak nafas|sesak bernapas|tidak bisa bernapas|tidak bisa bernafas|tidak bernapas|napasnya berat|napas berat|sesak berat|kebiruan)\b"),
    ("kesetrum", r"\b(kesetrum|tersetrum|tersengat listrik|kena setrum)\b"),
    ("tertimpa", r"\b(tertimpa|terhimpit|tertindih)\b"),
    ("kritis", r"\b(kritis|sekarat|luka parah|luka berat|patah tulang|gegar otak|kakinya patah|tangannya patah)\b"),
    ("teriak minta tolong", r"\b(teriak( teriak)?( minta)? tolong|tolong tolong)\b"),
    ("senjata", r"\b(ditusuk|dibacok|ditikam|ditembak|sajam|senjata tajam|senjata api|bawa senjata|membawa senjata|parang|celurit)\b"),
    ("jantung/stroke/persalinan", r"\b(serangan jantung|kena stroke|stroke mendadak|melahirkan|ketuban( sudah)? pecah)\b"),
    ("gigitan ular/buaya", r"\b(digigit ular|dipatuk ular|ular berbisa|diterkam buaya|digigit buaya|diserang buaya|disambar buaya)\b"),
    ("keracunan", r"\b(keracunan)\b"),
)  # fmt: skip

# People at risk: only a life threat together with a fire or flood happening now.
PEOPLE_CUES: tuple[tuple[str, str], ...] = (
    ("tidak bisa keluar", r"\b(belum keluar|masih di dalam|naik ke atap|di atap|di loteng|ke loteng|tidak bisa (jalan|berjalan|mengungsi)|lumpuh)\b"),
    ("orang rentan", r"\b(lansia|nenek|kakek|orang tua|bayi|balita|anak anak|anak kecil|ibu hamil|orang sakit|sakit|asma|stroke|disabilitas|pasien)\b"),
    ("minta tolong", r"\b(tolong(?! di\w+| (pemerintah|dinas|pemkab|bapak|pak|bupati))|perahu|evakuasi|tidak ada makanan|kelaparan|belum makan|tidak ada bantuan|bantuan belum datang)\b"),
)  # fmt: skip

# Hazards happening now: fire (P1 on its own) and flood (P1 with people at risk).
FIRE_CUES: tuple[tuple[str, str], ...] = (
    (
        "kebakaran",
        r"\b((?<!pemadam )(?<!korban )(?<!bekas )kebakaran|terbakar|hangus|(?<!percikan )(?<!kembang )(?<!korek )(?<!kereta )(?<!pemadam )api(nya)?)\b",
    ),
)
FLOOD_CUES: tuple[tuple[str, str], ...] = (
    (
        "banjir",
        r"\b(banjir|kebanjiran|terendam|air (sudah |mulai |terus )?(naik|sampai|masuk|setinggi)|setinggi (dada|leher|pinggang|atap|lutut)|sepinggang|sedada|meluap|belum surut|tidak surut)\b",
    ),
)
# Other words that name an emergency: used only to tell "now" from "past or hypothetical".
EMERGENCY_WORDS = (
    r"\b(kecelakaan|tabrakan|bertabrakan|tertabrak|terguling|laka|menabrak|nabrak|ambulans|tenggelam|hanyut|"
    r"korban|meninggal|tewas|terjebak|(?<!pemadam )(?<!korban )kebakaran|terbakar|membakar|dibakar|bakar|(?<!pemadam )api|banjir)\b"
)

# Strong-but-not-life cues: raise one step, at most to P2.
SEVERE_CUES: tuple[tuple[str, str], ...] = (
    ("bahaya", r"\b(bahaya|berbahaya)\b"),
    ("parah", r"\b(parah|sangat parah|hancur|ambruk|roboh|ambles|amblas|putus total)\b"),
    ("meluas", r"\b(meluas|makin tinggi|semakin tinggi|terus naik|naik terus|makin parah|semakin parah)\b"),
    ("rentan", r"\b(lansia|bayi|balita|ibu hamil|disabilitas|orang sakit)\b"),
    ("mengungsi", r"\b(mengungsi|evakuasi|pengungsi)\b"),
    ("luka", r"\b(luka|terluka|lecet|cedera)\b"),
    ("darurat", r"\b(darurat|gawat|urgent|urgen|cepat tolong|segera tolong)\b"),
    ("kabel menjuntai", r"\b(kabel (listrik )?(putus|menjuntai|jatuh|terkelupas)|percikan api|korsleting)\b"),
)  # fmt: skip

_NEGATION = re.compile(r"\b(tidak ada|tidak|belum ada|belum|tanpa|bukan|nihil|untung)( \w+){0,2} $")
# A hypothetical is named in the few words before the cue: "rawan kecelakaan", "takut roboh".
_HYPOTHETICAL = re.compile(
    r"\b(rawan|membahayakan|berpotensi|berisiko|menyebabkan|mengakibatkan|takut|khawatir|jangan sampai|"
    r"sebelum( ada)?|kalau|jika|apabila|bila|seandainya|sewaktu waktu|mencegah|pencegahan|antisipasi|"
    r"sosialisasi|larangan|dilarang|hati hati|bisa|dapat|nanti|sering)( \w+){0,2} $"
)
# Past or future anywhere in the clause: the emergency is not happening now.
_NOT_NOW = re.compile(
    r"\b(pernah|dulu|dahulu|tahun lalu|bulan lalu|minggu lalu|pekan lalu|tahun kemarin|tahun (19|20)\d\d|"
    r"sudah padam|sudah dipadamkan|berhasil dipadamkan|habis terbakar|sudah surut|telah surut|"
    r"sudah ditemukan|berhasil ditemukan|bekas|besok|lusa|minggu depan|bulan depan|"
    r"tahun depan|jadwal|kontrol|menjelang|mengusulkan|usulan|(?<!sejak )(?<!dari )kemarin)\b"
)
_NO_VICTIMS = re.compile(
    r"\b(tidak ada korban|tanpa korban|tidak ada yang luka|tidak ada yang terluka|tidak ada yang luka parah|"
    r"cuma lecet|hanya lecet|cuma penyok|hanya penyok|korban selamat|semua selamat)\b"
)
_CLAUSE = re.compile(r"[.!?;,\n]+")
_RAW_TOKEN = re.compile(r"[a-z0-9]+")
# Abbreviations whose dot does not end a clause ("Jl. Barito", "Kec. Selat").
_ABBREVIATION = re.compile(r"\b(jl|jln|gg|no|kec|ds|kel|bpk|dr|st|rt|rw|km|kab|yth)\.")

_LIFE = tuple((label, re.compile(pattern)) for label, pattern in LIFE_CUES)
_PEOPLE_RES = tuple((label, re.compile(pattern)) for label, pattern in PEOPLE_CUES)
_FIRE = tuple((label, re.compile(pattern)) for label, pattern in FIRE_CUES)
_FLOOD = tuple((label, re.compile(pattern)) for label, pattern in FLOOD_CUES)
_SEVERE = tuple((label, re.compile(pattern)) for label, pattern in SEVERE_CUES)
_EMERGENCY = re.compile(EMERGENCY_WORDS)


@dataclass(frozen=True)
class CueMatch:
    """One cue that fired: its label, its kind (life/people/fire/flood/severe) and the reporter's words."""

    label: str
    kind: str
    words: str

    def shown(self) -> str:
        """The form shown to the operator and stored in the triage event: `label: words`."""
        return f"{self.label}: {self.words}" if self.words and self.words != self.label else self.label


@dataclass(frozen=True)
class Clause:
    """One clause, normalised, with the raw token each normalised character came from."""

    norm: str
    owners: list[int]  # per character of `norm`: index into `raw`, -1 for spaces
    raw: list[str]

    def words(self, start: int, end: int) -> str:
        """The reporter's own tokens behind the normalised span [start, end)."""
        indices = sorted({i for i in self.owners[start:end] if i >= 0})
        return " ".join(self.raw[i] for i in range(indices[0], indices[-1] + 1)) if indices else ""


def _clause(raw_text: str) -> Clause:
    """Normalise one clause token by token (as `normalise` does, without multi-word phrases)."""
    raw = _RAW_TOKEN.findall(raw_text)
    parts: list[str] = []
    owners: list[int] = []
    for index, token in enumerate(raw):
        squeezed = squeeze(token)
        mapped = SLANG.get(squeezed)
        if mapped is None and squeezed != token:
            mapped = SLANG.get(token)
        mapped = squeezed if mapped is None else mapped
        for word in mapped.split():
            if parts:
                parts.append(" ")
                owners.append(-1)
            parts.append(word)
            owners.extend([index] * len(word))
    return Clause("".join(parts), owners, raw)


def clauses(text: str) -> list[Clause]:
    """The text cut at sentence and clause punctuation, each part normalised with its raw words."""
    cleaned = _ABBREVIATION.sub(r"\1", basic_clean(text))
    return [_clause(part) for part in _CLAUSE.split(cleaned) if part.strip()]


def _counts(clause: Clause, start: int, *, hypothetical: bool = True) -> bool:
    """False when the match at `start` is negated, hypothetical or in a past/future clause."""
    before = clause.norm[max(0, start - 40) : start]
    if _NEGATION.search(before):
        return False
    if hypothetical and _HYPOTHETICAL.search(before):
        return False
    return not _NOT_NOW.search(clause.norm)


def _find(
    patterns: tuple[tuple[str, re.Pattern[str]], ...], kind: str, parts: list[Clause], *, strict: bool = True
) -> list[CueMatch]:
    found: dict[str, CueMatch] = {}
    for label, pattern in patterns:
        for clause in parts:
            for match in pattern.finditer(clause.norm):
                if strict and not _counts(clause, match.start()):
                    continue
                if not strict and _NEGATION.search(clause.norm[max(0, match.start() - 40) : match.start()]):
                    continue
                found.setdefault(label, CueMatch(label, kind, clause.words(match.start(), match.end())))
                break
            if label in found:
                break
    return list(found.values())


@dataclass(frozen=True)
class UrgencyAssessment:
    """The urgency of one report and why: every cue that fired, with the reporter's words."""

    priority: Priority
    default: Priority
    matches: tuple[CueMatch, ...] = ()
    not_now: bool = False
    no_victims: bool = False

    @property
    def life(self) -> bool:
        """A life threat now: a life cue, a fire now, or a flood now with people at risk."""
        return any(m.kind in {"life", "fire", "hazard+people"} for m in self.matches)

    @property
    def life_cues(self) -> tuple[str, ...]:
        """The life-threat cues as shown to the operator (`label: words`)."""
        return tuple(m.shown() for m in self.matches if m.kind in {"life", "fire", "hazard+people"})

    @property
    def severe_cues(self) -> tuple[str, ...]:
        """The severity cues as shown to the operator."""
        return tuple(m.shown() for m in self.matches if m.kind == "severe")

    @property
    def cues(self) -> list[str]:
        """All cues found, life-threatening first."""
        return [*self.life_cues, *self.severe_cues]


@dataclass(frozen=True)
class UrgencyReading:
    """What the words say, before any category: cues, whether it is now, victims, emergency named."""

    matches: tuple[CueMatch, ...]
    not_now: bool
    no_victims: bool
    mentions_emergency: bool


def read_urgency(text: str) -> UrgencyReading:
    """The cues of a text and its time (now / past / hypothetical), independent of any category guess."""
    parts = clauses(text)
    matches = _find(_LIFE, "life", parts)
    fire = _find(_FIRE, "fire", parts)
    flood = _find(_FLOOD, "flood", parts)
    # People at risk are not themselves hypothetical ("tolong" is often polite): no hypothetical filter,
    # but they count only together with a fire or flood happening now.
    people = _find(_PEOPLE_RES, "people", parts, strict=False)
    matches.extend(fire)
    if flood and people:
        words = "; ".join([flood[0].words, *(p.words for p in people)])
        matches.append(CueMatch("banjir + orang berisiko", "hazard+people", words))
    matches.extend(_find(_SEVERE, "severe", parts))
    mentions = [(clause, match.start()) for clause in parts for match in _EMERGENCY.finditer(clause.norm)]
    not_now = bool(mentions) and not any(_counts(clause, start) for clause, start in mentions)
    no_victims = any(_NO_VICTIMS.search(clause.norm) for clause in parts)
    return UrgencyReading(tuple(matches), not_now, no_victims, bool(mentions))


def raise_priority(priority: Priority, steps: int = 1, ceiling: Priority = Priority.P1) -> Priority:
    """`priority` made more urgent by `steps`, never above `ceiling`; never less urgent than it was."""
    rank = max(priority.rank - steps, ceiling.rank)
    return Priority(f"P{min(rank, priority.rank)}")


def assess_urgency(service: str, text: str) -> UrgencyAssessment:
    """Apply the urgency rule (module docstring) to a report classified, with confidence, as `service`.

    When the category is uncertain, use `priority.decide_priority`, which does not lean on the guessed
    service's default.
    """
    default = DEFAULT_PRIORITY.get(service, Priority.P4)
    reading = read_urgency(text)
    not_now, no_victims = reading.not_now, reading.no_victims
    assessment = UrgencyAssessment(default, default, reading.matches, not_now, no_victims)
    if assessment.life:
        priority = Priority.P1
    elif default == Priority.P1 and not_now:
        priority = Priority.P3
    elif default == Priority.P1 and no_victims and service == "kecelakaan":
        priority = Priority.P2
    elif assessment.severe_cues:
        priority = raise_priority(default, 1, ceiling=Priority.P2)
    else:
        priority = default
    return UrgencyAssessment(priority, default, reading.matches, not_now, no_victims)
