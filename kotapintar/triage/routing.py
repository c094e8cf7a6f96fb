"""Who handles a report: routing rules as data (service + region + time of day -> agency, informed).

Order of decision: a learned override (from a `bukan_wewenang` rejection), then the most specific rule of
routing.yaml, then the catalogue's agency. External bodies are reached through their liaison, who is
informed as well. Rules are validated when loaded; a bad file is refused with the rule and field named.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

import yaml

from kotapintar.core.errors import ValidationFailed

ANYWHERE = "*"
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class RoutingRule:
    """One rule: for `service` in `regions` (any when empty) during `hours` (any when None)."""

    id: str
    service: str
    agency: str
    regions: tuple[str, ...] = ()
    hours: tuple[time, time] | None = None
    informed: tuple[str, ...] = ()
    note: str = ""

    def covers_region(self, region_codes: Collection[str]) -> int:
        """Length of the most specific rule region containing one of `region_codes`; -1 when none, 0 if any."""
        if not self.regions:
            return 0
        best = -1
        for code in self.regions:
            for region in region_codes:
                if region == code or region.startswith(code + "."):
                    best = max(best, len(code))
        return best

    def covers_time(self, moment: time | None) -> bool:
        """True when the rule has no hours or `moment` (local time) falls inside them."""
        if self.hours is None:
            return True
        if moment is None:
            return False
        start, end = self.hours
        if start <= end:
            return start <= moment < end
        return moment >= start or moment < end


@dataclass(frozen=True)
class RouteDecision:
    """The responsible agency, the agencies informed and why (rule id, override or catalogue)."""

    agency: str
    informed: tuple[str, ...]
    reason: str  # "catalogue" | "rule:<id>" | "override:<region>"
    liaison: str | None = None  # the internal liaison through whom an external agency is reached


@dataclass
class RoutingTable:
    """The rules of one deployment plus the overrides it has learned."""

    rules: list[RoutingRule] = field(default_factory=list)
    liaisons: dict[str, str] = field(default_factory=dict)
    overrides: dict[tuple[str, str], str] = field(default_factory=dict)  # (service, region) -> agency

    def with_overrides(self, overrides: Iterable[tuple[str, str, str]]) -> RoutingTable:
        """A copy carrying the learned (service, region, agency) overrides."""
        return RoutingTable(
            rules=self.rules,
            liaisons=self.liaisons,
            overrides={(s, r): a for s, r, a in overrides},
        )

    def _override(self, service: str, region_codes: Collection[str]) -> tuple[str, str] | None:
        best: tuple[int, str, str] | None = None
        for (o_service, o_region), agency in self.overrides.items():
            if o_service != service:
                continue
            if o_region == ANYWHERE:
                specificity = 0
            elif any(r == o_region or r.startswith(o_region + ".") for r in region_codes):
                specificity = len(o_region)
            else:
                continue
            if best is None or specificity > best[0]:
                best = (specificity, o_region, agency)
        return (best[1], best[2]) if best is not None else None

    def route(
        self,
        service: str,
        default_agency: str,
        default_informed: Iterable[str],
        region_codes: Collection[str],
        local_time: time | None = None,
    ) -> RouteDecision:
        """Decide agency and informed agencies for a report of `service` in `region_codes` at `local_time`."""
        agency, informed, reason = default_agency, list(default_informed), "catalogue"
        chosen: tuple[int, int, RoutingRule] | None = None
        for order, rule in enumerate(self.rules):
            if rule.service != service or not rule.covers_time(local_time):
                continue
            specificity = rule.covers_region(region_codes)
            if specificity < 0:
                continue
            if chosen is None or specificity > chosen[0]:
                chosen = (specificity, -order, rule)
        if chosen is not None:
            rule = chosen[2]
            agency, reason = rule.agency, f"rule:{rule.id}"
            informed = [*informed, *rule.informed]
        override = self._override(service, region_codes)
        if override is not None:
            region, learned = override
            if learned != agency:
                informed.append(agency)  # the agency that said "not ours" still hears of it
            agency, reason = learned, f"override:{region}"
        liaison = self.liaisons.get(agency)
        extra = [liaison] if liaison else []
        extra += [self.liaisons[a] for a in informed if a in self.liaisons]
        final = tuple(dict.fromkeys(a for a in [*informed, *extra] if a != agency))
        return RouteDecision(agency=agency, informed=final, reason=reason, liaison=liaison)


def _parse_hours(value: Any, where: str) -> tuple[time, time] | None:
    if value is None:
        return None
    match = _HOURS.match(str(value).strip())
    if not match:
        raise ValidationFailed(f"{where}: hours '{value}' harus 'HH:MM-HH:MM' (mis. 17:00-07:00).")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return time(h1, m1), time(h2, m2)


def parse_routing(
    data: Any, *, source: str, services: Collection[str], agencies: Collection[str]
) -> RoutingTable:
    """Validate and build a routing table from parsed YAML; unknown codes are refused with their place."""
    if not isinstance(data, dict):
        raise ValidationFailed(f"{source}: berkas rute harus berisi mapping (liaisons, rules).")
    liaisons_raw = data.get("liaisons") or {}
    if not isinstance(liaisons_raw, dict):
        raise ValidationFailed(f"{source}: 'liaisons' harus mapping instansi_luar: penghubung.")
    liaisons: dict[str, str] = {}
    for external, liaison in liaisons_raw.items():
        for code in (external, liaison):
            if code not in agencies:
                raise ValidationFailed(f"{source}: liaisons: instansi '{code}' tidak dikenal.")
        liaisons[str(external)] = str(liaison)
    rules: list[RoutingRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("rules") or []):
        where = f"{source}: rules[{i}]"
        if not isinstance(raw, dict) or not raw.get("id"):
            raise ValidationFailed(f"{where}: setiap aturan perlu 'id'.")
        rule_id = str(raw["id"])
        where = f"{source}: aturan '{rule_id}'"
        if rule_id in seen:
            raise ValidationFailed(f"{where}: id dipakai dua kali.")
        seen.add(rule_id)
        unknown = set(raw) - {"id", "service", "regions", "hours", "agency", "informed", "note"}
        if unknown:
            raise ValidationFailed(f"{where}: kolom tidak dikenal {sorted(unknown)}.")
        if raw.get("service") not in services:
            raise ValidationFailed(f"{where}: layanan '{raw.get('service')}' tidak ada di katalog.")
        informed = tuple(str(a) for a in raw.get("informed") or ())
        for code in (raw.get("agency"), *informed):
            if code not in agencies:
                raise ValidationFailed(f"{where}: instansi '{code}' tidak dikenal.")
        regions = tuple(str(r) for r in raw.get("regions") or ())
        rules.append(
            RoutingRule(
                id=rule_id,
                service=str(raw["service"]),
                agency=str(raw["agency"]),
                regions=regions,
                hours=_parse_hours(raw.get("hours"), where),
                informed=informed,
                note=str(raw.get("note") or ""),
            )
        )
    return RoutingTable(rules=rules, liaisons=liaisons)


def load_routing(path: Path, *, services: Collection[str], agencies: Collection[str]) -> RoutingTable:
    """Read and validate a routing file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{path}: YAML tidak sah: {exc}") from exc
    return parse_routing(data, source=path.name, services=services, agencies=agencies)
