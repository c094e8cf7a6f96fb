"""Long texts: strip letter boilerplate, find the complaint sentence(s), split multi-issue letters.

Real complaints are often formal letters: "Assalamu'alaikum … Yth. Bapak Bupati … semoga Bapak senantiasa
diberikan kesehatan … Demikian … atas perhatiannya kami ucapkan terima kasih. Wassalam". The greeting and
the closing carry no category, but they dilute the TF-IDF vector until every letter looks alike (the old
model sent 88 % of texts over 400 characters to review). Here they are cut away, and the sentences that
name a problem (those with a domain concept from the lexicon) are picked out, so the classifier can look
at the whole body *and* at the complaint itself. A letter that names several problems ("Pertama … Kedua
…", "jalannya berlubang, lampunya mati, selokannya mampet") is cut into segments that are classified
one by one: the main service comes from the whole text, the others become suggestions.
"""

from __future__ import annotations

import re

from kotapintar.triage.classify.normalise import concept_tokens, normalise

# Greeting and closing formulas, matched case-insensitively on the raw text; each removes up to the end of
# its clause. Order matters little: every pattern is applied to the whole text.
_BOILERPLATE = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\bw?assalamu'?’?\s*alaikum(\s+warahmatullahi)?(\s+wabarakatuh)?(\s+wr\.?\s*wb\.?)?[,.!]?",
        r"\bwassalam\w*[,.!]?",
        r"\bsalam sejahtera[^,.!\n]*[,.!]?",
        r"\bselamat (pagi|siang|sore|malam)\b[^,.!\n]{0,40}[,.!]?",
        r"\b(mohon maaf|maaf) (mengganggu|sebelumnya)[^,.!\n]*[,.!]?",
        r"\bdengan (segala )?hormat[,.!]?",
        r"\b(kepada\s+)?yth\.?\s[^,.\n]*[,.]",
        r"\bbapak/ibu (petugas )?yang (kami )?(hormati|terhormat)[,.]?",
        r"\b(yang|yg) (kami )?(hormati|terhormat)[,.]?",
        r"\bsemoga (bapak|ibu|kita|beliau|anda)?[^.!\n]*(sehat|lindungan|kelancaran|sukses|berkah)[^.!\n]*[.!]?",
        r"\bperkenalkan,?\s[^,.\n]*[,.]",
        r"\bdemikian\b[^.!\n]*[.!]?",
        r"\batas (perhatian|bantuan|kerja ?sama|kerjasamanya)[^.!\n]*[.!]?",
        r"\b(terima ?kasih|makasih)( banyak)?( atas [^.!\n]*)?[,.!]?",
        r"\bhormat (kami|saya)\b[^\n]*",
        r"\b(kami )?(sangat )?(mohon|berharap) (perhatian|tindak ?lanjut|bantuan (bapak|ibu))[^.!\n]*[.!]?",
    )
)
_SENTENCE = re.compile(
    r"(?<=[.!?])\s+|\n+|\b(?=(?:pertama|kedua|ketiga|keempat|selain itu|dan juga)\b)", re.IGNORECASE
)
_CLAUSE = re.compile(r"[,;]\s*")
# Abbreviations whose dot does not end a sentence ("Jl. Kenanga", "Kec. Selat").
_ABBREVIATION = re.compile(
    r"\b(jl|jln|gg|no|kec|ds|kel|bpk|ibu|dr|st|rt|rw|km|kab|prov|yth|dll)\.", re.IGNORECASE
)
MIN_BODY_CHARS = 12
# Shorter texts keep their formulas: in a two-line message "terima kasih" or "selamat pagi" *is* the content.
LONG_TEXT_CHARS = 120


def strip_boilerplate(text: str) -> str:
    """The text without greeting and closing formulas; the original when too little would be left."""
    body = text
    for pattern in _BOILERPLATE:
        body = pattern.sub(" ", body)
    body = " ".join(body.split()).strip(" ,.;")
    return body if len(body) >= MIN_BODY_CHARS else " ".join(text.split())


def model_view(text: str) -> str:
    """What the classifier reads of a text: a long text without its formulas, a short one as written."""
    return strip_boilerplate(text) if len(text) >= LONG_TEXT_CHARS else " ".join(text.split())


def _has_concept(segment: str) -> bool:
    return bool(concept_tokens(normalise(segment)))


def complaint_sentences(text: str) -> list[str]:
    """The sentences of the body that name a problem (a domain concept), in order; may be empty."""
    body = _ABBREVIATION.sub(r"\1", strip_boilerplate(text))
    sentences = [s.strip(" ,.;") for s in _SENTENCE.split(body) if s and s.strip(" ,.;")]
    return [s for s in sentences if _has_concept(s)]


def focus(text: str) -> str | None:
    """The complaint sentences joined, when they are a real part of a longer body (else None)."""
    if len(text) < LONG_TEXT_CHARS:
        return None
    body = strip_boilerplate(text)
    found = complaint_sentences(text)
    if not found:
        return None
    joined = " ".join(found)
    return joined if len(joined) < 0.9 * len(body) else None


def segments(text: str) -> list[str]:
    """Candidate issues of a multi-issue text: complaint sentences, cut at commas when each part names a
    problem of its own. One segment (or none) means a single issue."""
    parts: list[str] = []
    for sentence in complaint_sentences(text):
        clauses = [c for c in _CLAUSE.split(sentence) if c.strip()]
        with_concept = [c for c in clauses if _has_concept(c)]
        parts.extend(with_concept if len(with_concept) > 1 else [sentence])
    return parts
