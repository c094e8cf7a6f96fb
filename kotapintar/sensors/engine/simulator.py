"""Deterministic (seeded) demo sensor data for Kapuas: tidal/seasonal river gauges with flood waves, rain,
PM2.5/PM10 with a daily cycle and dry-season haze, weather. Every value is a pure function of
(seed, device, attribute, time, scenario), so any sub-range gives the same readings as the whole range."""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from kotapintar.sensors.engine.kinds import DeviceKind
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.registry import Device

WIB = timezone(timedelta(hours=7))
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MASK = (1 << 64) - 1

# River gauge classes: base level (m), seasonal amplitude, tide amplitudes (M2, K1), flood wave peak (m),
# flood wave delay after the upstream start (h), rise-time multiplier.
_RIVER: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "kapuas_hulu": (3.5, 1.4, 0.0, 0.0, 4.2, 0.0, 1.0),
    "kapuas_tengah": (2.8, 1.0, 0.08, 0.03, 2.6, 18.0, 1.5),
    "kapuas_hilir": (1.3, 0.2, 0.45, 0.15, 1.3, 36.0, 2.0),
    "murung": (1.8, 0.5, 0.0, 0.0, 1.7, 0.0, 1.0),
    "murung_hilir": (1.2, 0.15, 0.4, 0.12, 1.2, 24.0, 2.0),
}
_DEFAULT_CLASS = "kapuas_tengah"


def _mix(*parts: int) -> int:
    """splitmix64 over the parts: a fast, stable integer hash."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (p & _MASK)) & _MASK
        x = (x + 0x9E3779B97F4A7C15) & _MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        x = z ^ (z >> 31)
    return x


def _uniform(*parts: int) -> float:
    """A float in [0, 1) determined by the parts."""
    return (_mix(*parts) >> 11) / float(1 << 53)


def _gauss(*parts: int) -> float:
    """A standard normal value determined by the parts (Box–Muller)."""
    u1 = max(_uniform(*parts, 1), 1e-12)
    u2 = _uniform(*parts, 2)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _sid(text: str) -> int:
    return zlib.crc32(text.encode())


@dataclass(frozen=True)
class FloodEvent:
    """A flood wave on a river (None = every river), starting upstream at `start`; downstream later."""

    start: datetime
    river: str | None = None
    magnitude: float = 1.0
    rise_hours: float = 12.0
    recession_hours: float = 60.0
    rain_mm: float = 70.0


@dataclass(frozen=True)
class HazeEvent:
    """Peat-fire haze over Kuala Kapuas: PM2.5 climbing to `peak_pm25` (µg/m³) for `duration_hours`."""

    start: datetime
    duration_hours: float = 72.0
    peak_pm25: float = 320.0


@dataclass(frozen=True)
class Fault:
    """A device fault: offline (no readings), stuck (repeats one value) or spike (+`size` at one reading)."""

    device_id: str
    kind: Literal["offline", "stuck", "spike"]
    start: datetime
    end: datetime
    size: float = 5.0


@dataclass(frozen=True)
class Scenario:
    """Events and faults that shape the simulated data."""

    floods: tuple[FloodEvent, ...] = ()
    hazes: tuple[HazeEvent, ...] = ()
    faults: tuple[Fault, ...] = field(default=())


def default_scenario(start: datetime, end: datetime, *, seed: int = 0) -> Scenario:
    """Occasional events: a flood in about one of three wet-season months, haze in about half of
    the dry-season (Aug–Oct) 20-day blocks."""
    floods: list[FloodEvent] = []
    hazes: list[HazeEvent] = []
    t = _EPOCH + timedelta(days=((start - _EPOCH).days // 30) * 30)
    while t < end:
        month = t.astimezone(WIB).month
        block = int((t - _EPOCH).total_seconds() // 86400)
        if month in (11, 12, 1, 2, 3, 4) and _uniform(seed, block, 11) < 0.35:
            offset = timedelta(hours=_uniform(seed, block, 12) * 24 * 26)
            river = "Kapuas" if _uniform(seed, block, 13) < 0.6 else "Kapuas Murung"
            floods.append(
                FloodEvent(start=t + offset, river=river, magnitude=0.8 + 0.5 * _uniform(seed, block, 14))
            )
        t += timedelta(days=30)
    t = _EPOCH + timedelta(days=((start - _EPOCH).days // 20) * 20)
    while t < end:
        month = t.astimezone(WIB).month
        block = int((t - _EPOCH).total_seconds() // 86400)
        if month in (8, 9, 10) and _uniform(seed, block, 21) < 0.5:
            hazes.append(
                HazeEvent(
                    start=t + timedelta(hours=_uniform(seed, block, 22) * 24 * 15),
                    duration_hours=48 + 96 * _uniform(seed, block, 23),
                    peak_pm25=200 + 250 * _uniform(seed, block, 24),
                )
            )
        t += timedelta(days=20)
    return Scenario(floods=tuple(floods), hazes=tuple(hazes))


def _bell(hour: float, centre: float, width: float) -> float:
    d = (hour - centre + 12) % 24 - 12
    return math.exp(-((d / width) ** 2))


def _season(t: datetime) -> float:
    """+1 in mid-January (wettest), -1 in mid-July."""
    doy = t.timetuple().tm_yday
    return math.cos(2 * math.pi * (doy - 15) / 365.25)


def _hours(t: datetime) -> float:
    return (t - _EPOCH).total_seconds() / 3600.0


def _wave(hours_since: float, rise: float, recession: float) -> float:
    """Flood wave shape 0..1..0: smooth rise over `rise` h, exponential recession."""
    if hours_since <= 0:
        return 0.0
    if hours_since <= rise:
        return math.sin(0.5 * math.pi * hours_since / rise) ** 2
    return math.exp(-(hours_since - rise) / (recession / 3.0))


class Simulator:
    """Generates readings of the given devices; the same inputs always give the same readings."""

    def __init__(self, devices: Iterable[Device], *, seed: int = 0, scenario: Scenario | None = None) -> None:
        self.devices = sorted(devices, key=lambda d: d.id)
        self.seed = seed
        self.scenario = scenario or Scenario()
        self._river_of_region: dict[str, tuple[str | None, str]] = {}
        for d in self.devices:
            if d.kind == DeviceKind.WATER_LEVEL:
                self._river_of_region.setdefault(d.region, (d.river, d.gauge_class or _DEFAULT_CLASS))

    # -- river -------------------------------------------------------------------------------------------
    def _flood_arrival(self, event: FloodEvent, river: str | None, gauge_class: str) -> tuple[float, float]:
        """(hours of arrival after the event start, rise hours) at a gauge of this class; arrival < 0: no."""
        if event.river is not None and river is not None and event.river != river:
            return -1.0, 0.0
        params = _RIVER.get(gauge_class, _RIVER[_DEFAULT_CLASS])
        return params[5], event.rise_hours * params[6]

    def water_level(self, device: Device, t: datetime) -> float:
        """River level (m) at a gauge: base + season + tide + flood waves + noise."""
        cls = device.gauge_class or _DEFAULT_CLASS
        base, season_amp, m2, k1, peak, _, _ = _RIVER.get(cls, _RIVER[_DEFAULT_CLASS])
        h = _hours(t)
        level = base + season_amp * _season(t)
        phase = (_sid(device.id) % 1000) / 1000.0
        level += m2 * math.sin(2 * math.pi * (h / 12.42 + phase)) + k1 * math.sin(2 * math.pi * h / 23.93)
        for event in self.scenario.floods:
            delay, rise = self._flood_arrival(event, device.river, cls)
            if delay < 0:
                continue
            since = (t - event.start).total_seconds() / 3600.0 - delay
            level += peak * event.magnitude * _wave(since, rise, event.recession_hours * (1 + delay / 36))
        level += 0.008 * _gauss(self.seed, _sid(device.id), int(h * 3600))
        return round(level, 3)

    # -- rain --------------------------------------------------------------------------------------------
    def rain(self, device: Device, t: datetime, interval: timedelta) -> float:
        """Rain (mm) fallen in the interval ending at `t`: afternoon showers + flood-event rain."""
        local = t.astimezone(WIB)
        day = (local.date() - _EPOCH.date()).days
        sid = _sid(device.region)
        wetness = 0.45 + 0.25 * _season(t)
        mm = 0.0
        if _uniform(self.seed, sid, day, 31) < wetness:
            start_h = 13.0 + 5.0 * _uniform(self.seed, sid, day, 32)
            dur_h = 0.75 + 2.25 * _uniform(self.seed, sid, day, 33)
            total = -12.0 * math.log(max(1e-9, 1 - _uniform(self.seed, sid, day, 34))) * (0.7 + wetness)
            mm += total * _shower_share(local, interval, start_h, dur_h)
        river, cls = self._river_of_region.get(device.region, (None, _DEFAULT_CLASS))
        for event in self.scenario.floods:
            delay, rise = self._flood_arrival(event, river, cls)
            if delay < 0 or device.region not in self._river_of_region:
                continue
            centre = event.start + timedelta(hours=delay + 0.25 * rise)
            lo, hi = centre - timedelta(hours=3), centre + timedelta(hours=3)
            t0 = t - interval
            overlap = (min(t, hi) - max(t0, lo)).total_seconds()
            if overlap > 0:
                mm += event.rain_mm * overlap / 21600.0
        if mm <= 0:
            return 0.0
        return round(round(mm / 0.2) * 0.2, 1)  # tipping bucket of 0.2 mm

    # -- air ---------------------------------------------------------------------------------------------
    def pm25(self, device: Device, t: datetime) -> float:
        """PM2.5 (µg/m³): dry-season base, morning/evening peaks, haze events, multiplicative noise."""
        hour = t.astimezone(WIB).hour + t.astimezone(WIB).minute / 60.0
        base = 20.0 - 8.0 * _season(t)
        daily = 1 + 0.5 * _bell(hour, 7, 2) + 0.35 * _bell(hour, 20, 2.5) - 0.25 * _bell(hour, 14, 3)
        station = 0.9 + 0.2 * ((_sid(device.id) % 100) / 100.0)
        value = base * daily * station
        for event in self.scenario.hazes:
            since = (t - event.start).total_seconds() / 3600.0
            if 0 <= since <= event.duration_hours + 24:
                ramp = min(1.0, since / 12.0) * min(1.0, max(0.0, (event.duration_hours + 24 - since) / 24.0))
                night = 1.0 + 0.25 * _bell(hour, 4, 4) - 0.2 * _bell(hour, 14, 3)
                value += event.peak_pm25 * ramp * night
        value *= math.exp(0.12 * _gauss(self.seed, _sid(device.id), int(_hours(t) * 3600), 25))
        return round(max(0.0, value), 1)

    def pm10(self, device: Device, t: datetime) -> float:
        """PM10 (µg/m³) from PM2.5 plus coarse dust."""
        coarse = 12.0 + 4.0 * _gauss(self.seed, _sid(device.id), int(_hours(t) * 3600), 10)
        return round(self.pm25(device, t) * 1.3 + max(0.0, coarse), 1)

    # -- weather -----------------------------------------------------------------------------------------
    def weather(self, device: Device, attribute: str, t: datetime, interval: timedelta) -> float:
        """Temperature (°C), relative humidity (%), wind speed (m/s) or rain (mm) of a weather station."""
        hour = t.astimezone(WIB).hour + t.astimezone(WIB).minute / 60.0
        noise = _gauss(self.seed, _sid(device.id + attribute), int(_hours(t) * 3600))
        heat = _bell(hour, 13.5, 4.0)
        if attribute == "temperature":
            return round(24.0 + 8.0 * heat + 0.3 * noise, 1)
        if attribute == "relativeHumidity":
            return round(min(100.0, 95.0 - 30.0 * heat + 2.0 * noise), 1)
        if attribute == "windSpeed":
            return round(max(0.0, 1.0 + 3.0 * _bell(hour, 14.5, 3.0) + 0.5 * noise), 1)
        return self.rain(device, t, interval)

    # -- all ---------------------------------------------------------------------------------------------
    def values(self, device: Device, t: datetime) -> list[tuple[str, float]]:
        """All attribute values of a device at `t` (before faults)."""
        if device.kind == DeviceKind.WATER_LEVEL:
            return [("waterLevel", self.water_level(device, t))]
        if device.kind == DeviceKind.RAIN_GAUGE:
            return [("precipitation", self.rain(device, t, device.interval))]
        if device.kind == DeviceKind.AIR_QUALITY:
            return [("pm25", self.pm25(device, t)), ("pm10", self.pm10(device, t))]
        if device.kind == DeviceKind.WEATHER:
            return [(a, self.weather(device, a, t, device.interval)) for a in device.attributes]
        return []

    def device_readings(self, device: Device, start: datetime, end: datetime) -> Iterator[Reading]:
        """Readings of one device at its interval, aligned to the interval, in [start, end)."""
        step = device.interval_s
        first = -(-int((start - _EPOCH).total_seconds()) // step) * step
        faults = [f for f in self.scenario.faults if f.device_id == device.id]
        t = _EPOCH + timedelta(seconds=first)
        while t < end:
            active = [f for f in faults if f.start <= t < f.end]
            if not any(f.kind == "offline" for f in active):
                for attribute, value in self.values(device, t):
                    for f in active:
                        if f.kind == "stuck":
                            value = dict(self.values(device, f.start)).get(attribute, value)
                        elif f.kind == "spike" and t - f.start < device.interval:
                            value = value + f.size
                    yield Reading(t, device.id, attribute, value, _unit(attribute))
            t += device.interval

    def readings(self, start: datetime, end: datetime) -> Iterator[Reading]:
        """All devices' readings in [start, end), in time order (then device, attribute)."""
        streams = [self.device_readings(d, start, end) for d in self.devices]
        return heapq.merge(*streams, key=lambda r: (r.observed_at, r.device_id))


def _shower_share(local: datetime, interval: timedelta, start_h: float, dur_h: float) -> float:
    """Share of a triangular-profile shower falling in the interval ending at `local`."""
    end_h = local.hour + local.minute / 60.0 + local.second / 3600.0
    begin_h = end_h - interval.total_seconds() / 3600.0

    def cumulative(x: float) -> float:
        u = min(max((x - start_h) / dur_h, 0.0), 1.0)
        return 2 * u * u if u <= 0.5 else 1 - 2 * (1 - u) ** 2

    return max(0.0, cumulative(end_h) - cumulative(begin_h))


def _unit(attribute: str) -> str:
    from kotapintar.sensors.engine.kinds import canonical_unit

    return canonical_unit(attribute)


def simulate(
    devices: Sequence[Device],
    start: datetime,
    end: datetime,
    *,
    seed: int = 0,
    scenario: Scenario | None = None,
) -> list[Reading]:
    """All readings of `devices` in [start, end) in time order; scenario defaults to `default_scenario`."""
    scen = scenario if scenario is not None else default_scenario(start - timedelta(days=10), end, seed=seed)
    return list(Simulator(devices, seed=seed, scenario=scen).readings(start, end))
