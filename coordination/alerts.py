"""Alerts as immutable values, their JSON form (docs/alert-schema.md) and where they are kept.

An :class:`Alert` is what an enforcement team receives: the verdicts, the evidence (sensors,
measured vs predicted levels, the estimated position and its region, candidate stations) and the
life-cycle state. It is a frozen value: the engine derives the next version with
:meth:`Alert.evolve` and hands the store a new object, so a subscriber or a store never sees an
alert change under its feet. ``to_json()`` is the one place that defines the wire/API form;
``from_json()`` validates it back (the server reloads open alerts after a restart, the console
reads alerts from the API).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from coordination.protocol import EMISSION_CLASSES, format_utc, utc_from_text

ALERT_SCHEMA_VERSION = 1
"""Version of the alert JSON (``schema_version`` key); additive changes keep the number."""

EVENTS: tuple[str, ...] = ("opened", "updated", "acknowledged", "resolved")
STATES: tuple[str, ...] = ("open", "acknowledged", "resolved")
VERDICTS: tuple[str, ...] = ("unlicensed", "cross_border", "licence_violation")
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "info")


class AlertError(ValueError):
    """An alert JSON object (or a life-cycle step) that breaks the schema; names the key."""


def format_time(t: datetime) -> str:
    """:func:`~coordination.protocol.format_utc`, refusing a naive time with an AlertError."""
    try:
        return format_utc(t)
    except ValueError as exc:
        raise AlertError(f"alert time: {exc}") from None


def parse_time(text: Any, key: str) -> datetime:
    """Parse an ISO-8601 UTC time of alert key ``key``; AlertError naming the key otherwise."""
    try:
        return utc_from_text(text, f"alert.{key}")
    except ValueError as exc:
        raise AlertError(str(exc)) from None


def _r(x: float | None, nd: int = 2) -> float | None:
    """Round for JSON (levels to 0.01 dB are plenty; keeps the documents readable)."""
    if x is None:
        return None
    return round(float(x), nd)


@dataclass(frozen=True)
class SensorReading:
    """One sensor's view of the emitter: what it measured and what the licence predicts there."""

    sensor_id: str
    province: str
    lat: float
    lon: float
    measured_dbuv_m: float
    measured_dbm: float
    predicted_dbuv_m: float | None
    border_limit_dbuv_m: float
    t_utc: datetime | None = None
    #: the class the sensor's classifier measured (dsp.classify's vocabulary) and its confidence (0..1), when it
    #: sent one other than ``unknown``: what the TDOA round reads to know an FM target (coordination.emission_class)
    emission_class: str | None = None
    class_confidence: float | None = None

    @property
    def excess_db(self) -> float:
        """Measured field above the band's border limit (negative = below)."""
        return self.measured_dbuv_m - self.border_limit_dbuv_m

    def to_json(self) -> dict[str, Any]:
        out = {
            "sensor_id": self.sensor_id, "province": self.province, "lat": _r(self.lat, 6), "lon": _r(self.lon, 6),
            "measured_dbuv_m": _r(self.measured_dbuv_m), "measured_dbm": _r(self.measured_dbm),
            "predicted_dbuv_m": _r(self.predicted_dbuv_m), "border_limit_dbuv_m": _r(self.border_limit_dbuv_m),
            "excess_db": _r(self.excess_db),
        }
        if self.t_utc is not None:
            out["t_utc"] = format_time(self.t_utc)
        if self.emission_class is not None:
            out["emission_class"] = self.emission_class
            out["class_confidence"] = _r(self.class_confidence or 0.0, 3)
        return out

    @classmethod
    def from_json(cls, d: Any, where: str) -> SensorReading:
        m = _mapping(d, where)
        pred = m.get("predicted_dbuv_m")
        klass, confidence = m.get("emission_class"), None
        if klass is not None:
            if klass not in EMISSION_CLASSES:
                raise AlertError(f"{where}.emission_class must be one of {', '.join(EMISSION_CLASSES)}, got {klass!r}")
            confidence = _f(m, "class_confidence", where)
            if not 0.0 <= confidence <= 1.0:
                raise AlertError(f"{where}.class_confidence must be in [0, 1], got {confidence!r}")
        return cls(
            sensor_id=_s(m, "sensor_id", where), province=_s(m, "province", where),
            lat=_f(m, "lat", where), lon=_f(m, "lon", where),
            measured_dbuv_m=_f(m, "measured_dbuv_m", where), measured_dbm=_f(m, "measured_dbm", where),
            predicted_dbuv_m=None if pred is None else _f(m, "predicted_dbuv_m", where),
            border_limit_dbuv_m=_f(m, "border_limit_dbuv_m", where),
            t_utc=None if m.get("t_utc") is None else parse_time(m["t_utc"], f"{where}.t_utc"),
            emission_class=klass, class_confidence=confidence,
        )


@dataclass(frozen=True)
class Position:
    """Estimated emitter position with its uncertainty region.

    ``kind`` says what the region is: ``ellipse`` (several sensors: 1-sigma ellipse, ``error_km`` the
    2-sigma radius of the horizontal error), ``region`` (two sensors: ellipse fitted to the
    plausible area), ``annulus`` (one sensor: the emitter is between ``r_inner_km`` and
    ``r_outer_km`` from it; ``lat``/``lon`` is the sensor, i.e. the centre of the region, not a fix).
    ``provinces`` maps province code -> probability that the emitter lies in it. ``method`` says what
    gave the fix: ``rss`` (received levels), ``tdoa`` (time differences of arrival) or ``fused`` (both).
    """

    lat: float
    lon: float
    error_km: float
    semi_major_km: float
    semi_minor_km: float
    orientation_deg: float
    provinces: tuple[tuple[str, float], ...] = ()
    kind: str = "ellipse"
    n_sensors: int = 0
    r_inner_km: float | None = None
    r_outer_km: float | None = None
    eirp_dbw: float | None = None
    method: str = "rss"

    @property
    def province_probabilities(self) -> dict[str, float]:
        return dict(self.provinces)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lat": _r(self.lat, 6), "lon": _r(self.lon, 6), "error_km": _r(self.error_km, 3),
            "semi_major_km": _r(self.semi_major_km, 3), "semi_minor_km": _r(self.semi_minor_km, 3),
            "orientation_deg": _r(self.orientation_deg, 1),
            "provinces": {code: _r(p, 4) for code, p in self.provinces},
            "kind": self.kind, "n_sensors": self.n_sensors, "method": self.method,
        }
        if self.r_inner_km is not None:
            out["r_inner_km"] = _r(self.r_inner_km, 3)
            out["r_outer_km"] = _r(self.r_outer_km, 3)
        if self.eirp_dbw is not None:
            out["eirp_dbw"] = _r(self.eirp_dbw, 1)
        return out

    @classmethod
    def from_json(cls, d: Any, where: str = "position") -> Position:
        m = _mapping(d, where)
        provs = _mapping(m.get("provinces", {}), f"{where}.provinces")
        r_in = m.get("r_inner_km")
        r_out = m.get("r_outer_km")
        eirp = m.get("eirp_dbw")
        return cls(
            lat=_f(m, "lat", where), lon=_f(m, "lon", where), error_km=_f(m, "error_km", where),
            semi_major_km=_f(m, "semi_major_km", where), semi_minor_km=_f(m, "semi_minor_km", where),
            orientation_deg=_f(m, "orientation_deg", where),
            provinces=tuple((str(k), _f(provs, k, f"{where}.provinces")) for k in provs),
            kind=str(m.get("kind", "ellipse")), n_sensors=int(m.get("n_sensors", 0)),
            r_inner_km=None if r_in is None else _f(m, "r_inner_km", where),
            r_outer_km=None if r_out is None else _f(m, "r_outer_km", where),
            eirp_dbw=None if eirp is None else _f(m, "eirp_dbw", where),
            method=_method(m.get("method", "rss"), where),
        )


@dataclass(frozen=True)
class CandidateStation:
    """A licensed station whose licensed band overlaps the emission, with its predicted levels."""

    station_id: str
    province: str
    tx_freq_hz: float
    freq_offset_hz: float
    predicted_dbuv_m: tuple[tuple[str, float], ...]
    erp_dbw: float
    necessary_bw_hz: float = 0.0
    licensee: str = ""
    lat: float | None = None
    lon: float | None = None
    explains: bool = False
    findings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "station_id": self.station_id, "province": self.province, "tx_freq_hz": float(self.tx_freq_hz),
            "freq_offset_hz": _r(self.freq_offset_hz, 1),
            "predicted_dbuv_m": {sid: _r(v) for sid, v in self.predicted_dbuv_m},
            "erp_dbw": _r(self.erp_dbw), "necessary_bw_hz": float(self.necessary_bw_hz),
            "licensee": self.licensee, "lat": _r(self.lat, 6), "lon": _r(self.lon, 6),
            "explains": self.explains, "findings": list(self.findings),
        }

    @classmethod
    def from_json(cls, d: Any, where: str) -> CandidateStation:
        m = _mapping(d, where)
        pred = _mapping(m.get("predicted_dbuv_m", {}), f"{where}.predicted_dbuv_m")
        lat, lon = m.get("lat"), m.get("lon")
        return cls(
            station_id=_s(m, "station_id", where), province=_s(m, "province", where),
            tx_freq_hz=_f(m, "tx_freq_hz", where), freq_offset_hz=_f(m, "freq_offset_hz", where),
            predicted_dbuv_m=tuple((str(k), _f(pred, k, f"{where}.predicted_dbuv_m")) for k in pred),
            erp_dbw=_f(m, "erp_dbw", where), necessary_bw_hz=float(m.get("necessary_bw_hz", 0.0)),
            licensee=str(m.get("licensee", "")),
            lat=None if lat is None else _f(m, "lat", where), lon=None if lon is None else _f(m, "lon", where),
            explains=bool(m.get("explains", False)),
            findings=tuple(str(x) for x in m.get("findings", ())),
        )


@dataclass(frozen=True)
class Alert:
    """One alert (band, channel, emitter) at one point of its life; immutable.

    Field names and meanings are the documented JSON keys (docs/alert-schema.md). ``findings``
    are short human-readable reasons behind the verdicts ("ERP 15.2 dB above licence"),
    ``resolution`` says which party must act under the agreed rule order.
    """

    id: str
    event: str
    state: str
    verdicts: tuple[str, ...]
    severity: str
    severity_score: float
    band: str
    service: str
    channel_hz: float
    f_center_hz: float
    bandwidth_hz: float
    provinces_source: tuple[str, ...]
    provinces_affected: tuple[str, ...]
    sensors: tuple[SensorReading, ...]
    position: Position | None
    candidate_stations: tuple[CandidateStation, ...]
    first_seen: datetime
    last_seen: datetime
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    note: str | None = None
    evidence: tuple[str, ...] = ()
    rules_version: str = ""
    findings: tuple[str, ...] = ()
    resolution: str = ""
    matched_station: str | None = None
    updated_at: datetime | None = None
    notify_provinces: tuple[str, ...] = ()
    provisional: bool = False
    """A first-sight judgement (safety-of-life bands), published before the grouping window closes; the
    full judgement confirms it (an ``updated`` event with ``provisional`` false) or withdraws it
    (``resolved`` by ``engine``)."""
    position_rss: Position | None = None
    """The received-level position, kept when a fix that does not come from levels (TDOA) was fused into
    ``position`` (the engine's judgement then rests on the fused one)."""

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise AlertError(f"alert.event={self.event!r} not one of {EVENTS}")
        if self.state not in STATES:
            raise AlertError(f"alert.state={self.state!r} not one of {STATES}")
        if self.severity not in SEVERITIES:
            raise AlertError(f"alert.severity={self.severity!r} not one of {SEVERITIES}")
        bad = [v for v in self.verdicts if v not in VERDICTS]
        if bad:
            raise AlertError(f"alert.verdicts has unknown verdict {bad[0]!r} (allowed: {VERDICTS})")
        if not self.id:
            raise AlertError("alert.id must be non-empty")
        for name in ("first_seen", "last_seen"):
            t = getattr(self, name)
            if not isinstance(t, datetime) or t.tzinfo is None:
                raise AlertError(f"alert.{name} must be a timezone-aware datetime, got {t!r}")

    # ------------------------------------------------------------------ derived

    @property
    def active(self) -> bool:
        """Open or acknowledged: the emitter is still being watched."""
        return self.state != "resolved"

    @property
    def provinces(self) -> tuple[str, ...]:
        """Every province involved (source first, then affected), without repeats."""
        out: list[str] = []
        for p in (*self.provinces_source, *self.provinces_affected):
            if p not in out:
                out.append(p)
        return tuple(out)

    def topics(self) -> list[str]:
        """PUB topics this alert goes out on: ``alert.<PROV>`` for every province involved.

        Source and affected provinces first, then ``notify_provinces`` (safety-of-life bands are
        routed to every member province whatever the geography).
        """
        provs = list(self.provinces or sorted({s.province for s in self.sensors}))
        provs += [p for p in self.notify_provinces if p not in provs]
        return [f"alert.{p}" for p in provs]

    def evolve(self, **changes: Any) -> Alert:
        """A new alert with ``changes`` applied (the value itself never changes)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        """The documented alert JSON (docs/alert-schema.md); plain types only."""
        out: dict[str, Any] = {
            "schema_version": ALERT_SCHEMA_VERSION,
            "id": self.id,
            "event": self.event,
            "state": self.state,
            "verdicts": list(self.verdicts),
            "severity": self.severity,
            "severity_score": _r(self.severity_score, 1),
            "band": self.band,
            "service": self.service,
            "channel_hz": float(self.channel_hz),
            "f_center_hz": float(self.f_center_hz),
            "bandwidth_hz": float(self.bandwidth_hz),
            "f_lo_hz": float(self.f_center_hz - self.bandwidth_hz / 2.0),
            "f_hi_hz": float(self.f_center_hz + self.bandwidth_hz / 2.0),
            "provinces_source": list(self.provinces_source),
            "provinces_affected": list(self.provinces_affected),
            "sensors": [s.to_json() for s in self.sensors],
            "position": None if self.position is None else self.position.to_json(),
            "candidate_stations": [c.to_json() for c in self.candidate_stations],
            "matched_station": self.matched_station,
            "first_seen": format_time(self.first_seen),
            "last_seen": format_time(self.last_seen),
            "updated_at": format_time(self.updated_at or self.last_seen),
            "acknowledged_by": self.acknowledged_by,
            "resolved_by": self.resolved_by,
            "note": self.note,
            "evidence": list(self.evidence),
            "rules_version": self.rules_version,
            "findings": list(self.findings),
            "resolution": self.resolution,
            "notify_provinces": list(self.notify_provinces),
        }
        if self.provisional:  # optional key: absent means a full judgement (older readers ignore it)
            out["provisional"] = True
        if self.position_rss is not None:  # optional key: present only when a TDOA fix was fused
            out["position_rss"] = self.position_rss.to_json()
        return out

    @classmethod
    def from_json(cls, d: Any) -> Alert:
        """Validate an alert JSON object back into an :class:`Alert`; AlertError names the bad key."""
        m = _mapping(d, "alert")
        pos = m.get("position")
        pos_rss = m.get("position_rss")
        upd = m.get("updated_at")
        try:
            return cls(
                id=_s(m, "id", "alert"), event=_s(m, "event", "alert"), state=_s(m, "state", "alert"),
                verdicts=tuple(_str_list(m, "verdicts")), severity=_s(m, "severity", "alert"),
                severity_score=_f(m, "severity_score", "alert"), band=_s(m, "band", "alert"),
                service=str(m.get("service", "")), channel_hz=_f(m, "channel_hz", "alert"),
                f_center_hz=_f(m, "f_center_hz", "alert"), bandwidth_hz=_f(m, "bandwidth_hz", "alert"),
                provinces_source=tuple(_str_list(m, "provinces_source")),
                provinces_affected=tuple(_str_list(m, "provinces_affected")),
                sensors=tuple(SensorReading.from_json(s, f"alert.sensors[{i}]")
                              for i, s in enumerate(_list(m, "sensors"))),
                position=None if pos is None else Position.from_json(pos, "alert.position"),
                candidate_stations=tuple(CandidateStation.from_json(c, f"alert.candidate_stations[{i}]")
                                         for i, c in enumerate(_list(m, "candidate_stations"))),
                first_seen=parse_time(m.get("first_seen"), "first_seen"),
                last_seen=parse_time(m.get("last_seen"), "last_seen"),
                acknowledged_by=_opt_s(m, "acknowledged_by"), resolved_by=_opt_s(m, "resolved_by"),
                note=_opt_s(m, "note"), evidence=tuple(_str_list(m, "evidence", required=False)),
                rules_version=str(m.get("rules_version", "")),
                findings=tuple(_str_list(m, "findings", required=False)),
                resolution=str(m.get("resolution", "")), matched_station=_opt_s(m, "matched_station"),
                updated_at=None if upd is None else parse_time(upd, "updated_at"),
                notify_provinces=tuple(_str_list(m, "notify_provinces", required=False)),
                provisional=_opt_bool(m, "provisional"),
                position_rss=None if pos_rss is None else Position.from_json(pos_rss, "alert.position_rss"),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, AlertError):
                raise
            raise AlertError(f"alert: {exc}") from exc


def _opt_bool(m: Mapping[str, Any], key: str) -> bool:
    v = m.get(key, False)
    if not isinstance(v, bool):
        raise AlertError(f"alert.{key} must be true or false, got {v!r}")
    return v


@dataclass(frozen=True)
class AlertEvent:
    """A step in an alert's life, as published: ``event`` is one of :data:`EVENTS`."""

    event: str
    alert: Alert

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise AlertError(f"AlertEvent.event={self.event!r} not one of {EVENTS}")

    def to_json(self) -> dict[str, Any]:
        out = self.alert.to_json()
        out["event"] = self.event
        return out

    def topics(self) -> list[str]:
        return self.alert.topics()


# ---------------------------------------------------------------------- stores


@runtime_checkable
class AlertStore(Protocol):
    """Where alerts persist. The server core backs it with SQLite; tests use the in-memory one."""

    def save(self, alert: Alert) -> None: ...

    def load_active(self) -> list[Alert]: ...

    def get(self, alert_id: str) -> Alert | None: ...

    def list(self, state: str | None = None, province: str | None = None) -> list[Alert]: ...


class InMemoryAlertStore:
    """An :class:`AlertStore` in a dict (latest version of each alert); for tests and the demo."""

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._alerts: dict[str, Alert] = {}
        self.history: list[Alert] = []
        for a in alerts:
            self.save(a)

    def save(self, alert: Alert) -> None:
        self._alerts[alert.id] = alert
        self.history.append(alert)

    def load_active(self) -> list[Alert]:
        return [a for a in self._alerts.values() if a.active]

    def get(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def list(self, state: str | None = None, province: str | None = None) -> list[Alert]:
        if state not in (None, "all", *STATES):
            raise AlertError(f"state filter {state!r} not one of open, acknowledged, resolved, all")
        out = []
        for a in self._alerts.values():
            if state not in (None, "all") and a.state != state:
                continue
            if province is not None and province not in a.provinces:
                continue
            out.append(a)
        return sorted(out, key=lambda a: a.first_seen)


# ---------------------------------------------------------------------- JSON checkers


POSITION_METHODS = ("rss", "tdoa", "fused")


def _method(value: Any, where: str) -> str:
    if value not in POSITION_METHODS:
        raise AlertError(f"{where}.method: {value!r} is not one of {POSITION_METHODS}")
    return str(value)


def _mapping(d: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise AlertError(f"{where} must be an object, got {type(d).__name__}")
    return d


def _list(m: Mapping[str, Any], key: str) -> list[Any]:
    v = m.get(key)
    if not isinstance(v, list):
        raise AlertError(f"alert.{key} must be a list, got {v!r}")
    return v


def _str_list(m: Mapping[str, Any], key: str, required: bool = True) -> list[str]:
    if not required and m.get(key) is None:
        return []
    v = _list(m, key)
    if not all(isinstance(x, str) for x in v):
        raise AlertError(f"alert.{key} must be a list of strings")
    return v


def _s(m: Mapping[str, Any], key: str, where: str) -> str:
    v = m.get(key)
    if not isinstance(v, str):
        raise AlertError(f"{where}.{key} must be a string, got {v!r}")
    return v


def _opt_s(m: Mapping[str, Any], key: str) -> str | None:
    v = m.get(key)
    if v is not None and not isinstance(v, str):
        raise AlertError(f"alert.{key} must be a string or null, got {v!r}")
    return v


def _f(m: Mapping[str, Any], key: str, where: str) -> float:
    v = m.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise AlertError(f"{where}.{key} must be a finite number, got {v!r}")
    return float(v)
