"""Priority of a case under an uncertain category: urgency from the words, never from a guessed default.

The rule (docs/triage.md, "Prioritas saat kategori tidak pasti"):

1. **A life threat now is P1, whatever the category guess** (urgency.py: life cue, fire now, flood now
   with people at risk). A real emergency is never downgraded because the guess was a non-emergency
   service.
2. **Confident category** (confidence ≥ the review threshold): the service's default priority, except
   that an emergency default (P1) needs an emergency *now* — when every mention is past, hypothetical or
   negated ("rawan kecelakaan", "tahun lalu ada kecelakaan") the case is P3; an accident explicitly
   without victims is P2. Severity cues raise a priority only with `severity_raises` (the classifier
   contract); in intake they are shown, and the step is the operator's call.
3. **Uncertain category**: the guessed service's default is *not* used. The plausible alternatives are the
   top three with probability ≥ ``PLAUSIBLE`` (the best one always counts).
   - If an emergency service is plausible *and* the text names an emergency happening now (an accident,
     a drowning, an ambulance needed ...), the case is P1: better a fast look than a missed emergency.
   - Otherwise the most urgent default among the plausible **non-emergency** services (at most P2, since
     only emergency services default to P1).
   - If only emergency services are plausible but nothing in the text says "now", P2: the operator
     confirms quickly; nothing is dispatched as P1 on a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kotapintar.cases.lifecycle import Priority
from kotapintar.triage.classify.urgency import (
    DEFAULT_PRIORITY,
    UrgencyAssessment,
    raise_priority,
    read_urgency,
)

# An alternative at or above this probability is plausible enough to shape the priority.
PLAUSIBLE = 0.15


@dataclass(frozen=True)
class PriorityDecision:
    """The priority triage proposes and a reason code the operator page can explain."""

    priority: Priority
    reason: str  # ancaman_nyawa | bawaan_layanan | bukan_kejadian_sekarang | tanpa_korban |
    #              tidak_pasti_darurat_sekarang | tidak_pasti_alternatif | tidak_pasti_darurat_tanpa_isyarat
    urgency: UrgencyAssessment


def decide_priority(
    text: str,
    alternatives: Sequence[tuple[str, float]],
    *,
    confident: bool,
    defaults: Mapping[str, Priority] = DEFAULT_PRIORITY,
    severity_raises: bool = False,
) -> PriorityDecision:
    """Apply the module's rule to a text and the classifier's ranked (service, probability) list.

    `defaults` are the services' default priorities: the contract table, or the live catalogue's when
    intake calls (an operator may have changed a service's priority). With `severity_raises` a severity
    cue ("bahaya", "parah") raises a non-life priority one step, at most to P2 — the classifier's contract
    (`kotapintar triage classify`); intake leaves that step to the operator and passes False.
    """
    if not alternatives:
        raise ValueError("alternatives must not be empty")
    service = alternatives[0][0]
    default = defaults.get(service, Priority.P4)
    emergency_services = {code for code, p in defaults.items() if p == Priority.P1}
    reading = read_urgency(text)
    not_now, no_victims = reading.not_now, reading.no_victims
    base = UrgencyAssessment(default, default, reading.matches, not_now, no_victims)

    def decided(priority: Priority, reason: str) -> PriorityDecision:
        if severity_raises and priority != Priority.P1 and base.severe_cues:
            priority = raise_priority(priority, 1, ceiling=Priority.P2)
        urgency = UrgencyAssessment(priority, default, base.matches, not_now, no_victims)
        return PriorityDecision(priority, reason, urgency)

    if base.life:
        return decided(Priority.P1, "ancaman_nyawa")
    if confident:
        if default == Priority.P1 and not_now:
            return decided(Priority.P3, "bukan_kejadian_sekarang")
        if service == "kecelakaan" and no_victims:
            return decided(Priority.P2, "tanpa_korban")
        return decided(default, "bawaan_layanan")
    plausible = [code for i, (code, p) in enumerate(alternatives[:3]) if i == 0 or p >= PLAUSIBLE]
    emergency_now = reading.mentions_emergency and not not_now and not no_victims
    if emergency_now and any(code in emergency_services for code in plausible):
        return decided(Priority.P1, "tidak_pasti_darurat_sekarang")
    calm = [defaults.get(code, Priority.P4) for code in plausible if code not in emergency_services]
    if calm:
        return decided(min(calm, key=lambda p: p.rank), "tidak_pasti_alternatif")
    return decided(Priority.P2, "tidak_pasti_darurat_tanpa_isyarat")
