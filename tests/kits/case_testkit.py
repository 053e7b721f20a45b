"""Alert documents for case tests: realistic alert JSON (docs/alert-schema.md) per province and verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 12, 3, 6, 30, 0, tzinfo=UTC)


def alert_doc(alert_id: str = "20261203T063000-0a1b2c3d", *, source: tuple[str, ...] = ("JS",),
              affected: tuple[str, ...] = ("SH",), severity: str = "major",
              verdicts: tuple[str, ...] = ("unlicensed", "cross_border"), resolution: str = "",
              state: str = "open", lat: float = 31.42, lon: float = 121.05, f_center_hz: float = 450_012_500.0,
              t: datetime = T0) -> dict[str, Any]:
    """An alert as the API returns it, with two sensor readings and a position ellipse."""
    src = "/".join(source)
    return {
        "schema_version": 1, "id": alert_id, "event": "opened", "state": state, "verdicts": list(verdicts),
        "severity": severity, "severity_score": 64.0, "band": "PMR 400", "service": "land_mobile",
        "channel_hz": 450_012_500.0, "f_center_hz": f_center_hz, "bandwidth_hz": 11_000.0,
        "f_lo_hz": f_center_hz - 5500.0, "f_hi_hz": f_center_hz + 5500.0,
        "provinces_source": list(source), "provinces_affected": list(affected),
        "sensors": [
            {"sensor_id": "js-kunshan", "province": "JS", "lat": 31.38, "lon": 120.98, "measured_dbuv_m": 41.3,
             "measured_dbm": -85.7, "predicted_dbuv_m": None, "border_limit_dbuv_m": 25.0, "excess_db": 16.3},
            {"sensor_id": "sh-jiading", "province": "SH", "lat": 31.38, "lon": 121.25, "measured_dbuv_m": 33.9,
             "measured_dbm": -93.1, "predicted_dbuv_m": None, "border_limit_dbuv_m": 25.0, "excess_db": 8.9},
        ],
        "position": {"lat": lat, "lon": lon, "error_km": 3.1, "semi_major_km": 1.6, "semi_minor_km": 0.9,
                     "orientation_deg": 35.0, "provinces": {source[0] if source else "JS": 0.9, "SH": 0.1},
                     "kind": "ellipse", "n_sensors": 2},
        "candidate_stations": [], "matched_station": None,
        "first_seen": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "last_seen": (t + timedelta(seconds=40)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "updated_at": (t + timedelta(seconds=40)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "acknowledged_by": None, "resolved_by": None, "note": None, "evidence": [], "rules_version": "2026.1",
        "findings": ["no licensed station explains it", "16.3 dB over the border limit at js-kunshan"],
        "resolution": resolution or f"unplanned yields to planned: {src} to locate and stop the unlicensed emitter",
    }
