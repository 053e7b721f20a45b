"""The monitoring profiles the server hands every sensor at Hello (one procedure for all).

From the server config when it lists ``[[profile]]`` tables; otherwise one profile per band of
the coordination rules, so every sensor measures each agreed band with the band's own channel
raster and detection margin. Bin width is a quarter of the narrower of raster and channel width
(four bins per channel resolve a channel's occupied bandwidth), and the revisit time grows with
the number of 2.4 MHz tuner hops the band needs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from coordination.protocol import MonitoringProfile

#: Usable bandwidth of one tuner hop (an RTL-SDR at 2.4 MS/s with a quarter cropped).
HOP_HZ = 2.4e6 * 0.75
DWELL_S = 0.05

#: Used when neither config nor rules give profiles (PMR446 and marine VHF: small, always legal to watch).
FALLBACK_PROFILES: tuple[MonitoringProfile, ...] = (
    MonitoringProfile(name="pmr446", f_start_hz=446.0e6, f_stop_hz=446.2e6, bin_hz=3125.0, margin_db=6.0,
                      channel_raster_hz=12_500.0, channel_width_hz=12_500.0, revisit_s=1.0),
    MonitoringProfile(name="maritime_vhf", f_start_hz=156.0e6, f_stop_hz=162.05e6, bin_hz=6250.0, margin_db=6.0,
                      channel_raster_hz=25_000.0, channel_width_hz=25_000.0, revisit_s=2.0),
)


def slug(name: str) -> str:
    """A protocol-valid profile name from a band name ("PMR 150 (VHF high)" -> "pmr_150_vhf_high")."""
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return (s or "band")[:64]


def _band_value(band: Any, *names: str) -> float | None:
    for n in names:
        v = band.get(n) if isinstance(band, dict) else getattr(band, n, None)
        if v is not None:
            return float(v)
    return None


def profile_for_band(band: Any) -> MonitoringProfile:
    """One monitoring profile covering a rules band (duck-typed: attributes or dict keys in Hz)."""
    name = band.get("name") if isinstance(band, dict) else band.name
    f_lo = _band_value(band, "f_lo_hz")
    f_hi = _band_value(band, "f_hi_hz")
    if f_lo is None or f_hi is None:
        raise ValueError(f"band {name!r} has no f_lo_hz/f_hi_hz")
    raster = _band_value(band, "raster_hz", "channel_raster_hz") or 12_500.0
    width = _band_value(band, "channel_width_hz", "channel_bw_hz") or raster
    margin = _band_value(band, "margin_db") or 10.0
    hops = max(1, math.ceil((f_hi - f_lo) / HOP_HZ))
    revisit = max(1.0, round(hops * DWELL_S * 2, 1))
    return MonitoringProfile(name=slug(str(name)), f_start_hz=f_lo, f_stop_hz=f_hi,
                             bin_hz=min(raster, width) / 4.0, dwell_s=DWELL_S, revisit_s=revisit,
                             margin_db=min(margin, 60.0), channel_raster_hz=raster, channel_width_hz=width)


def profiles_from_rules(bands: Iterable[Any]) -> tuple[MonitoringProfile, ...]:
    """One profile per rules band, names made unique."""
    out: list[MonitoringProfile] = []
    seen: set[str] = set()
    for band in bands:
        p = profile_for_band(band)
        name, k = p.name, 2
        while name in seen:
            name, k = f"{p.name[:60]}_{k}", k + 1
        seen.add(name)
        out.append(p if name == p.name else MonitoringProfile(**(p.to_dict() | {"name": name})))
    return tuple(out)


def select_profiles(configured: Sequence[MonitoringProfile], rules: Any | None) -> tuple[MonitoringProfile, ...]:
    """Configured profiles win; else profiles from the rules bands; else the fallback pair."""
    if configured:
        return tuple(configured)
    bands = getattr(rules, "bands", None) if rules is not None else None
    if bands:
        return profiles_from_rules(bands)
    return FALLBACK_PROFILES
