"""A live sensor's emission class reaches the rules engine: pipeline -> Emissions on the wire -> finding."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
from engine_testkit import (
    AH_DEEP_SENSORS,
    AH_DEEP_STATION_POS,
    NOISE_FLOOR_DBM,
    PMR_FREQ_HZ,
    T0,
    emission,
    make_repo,
    station,
)

from coordination.alerts import InMemoryAlertStore
from coordination.engine import RulesEngine
from coordination.protocol import Emissions, MonitoringProfile, decode_as, format_utc
from sdr.pipeline import ProfileRunner
from sdr.sources import FileSource
from station_db.rules import load_rules

FS = 2.4e6


def _carrier_capture(tmp_path, seed: int):
    """An unmodulated carrier at the licensed frequency, 30 dB over the noise in 1 kHz, 0.25 s of cf32."""
    rng = np.random.default_rng(seed)
    n = int(0.25 * FS)
    offset = 50e3
    n0 = 1.0 / (1e3 * 10 ** 3.0)
    iq = np.exp(2j * np.pi * offset * np.arange(n) / FS) + (rng.standard_normal(n) + 1j * rng.standard_normal(n)) \
        * math.sqrt(n0 * FS / 2)
    path = tmp_path / "carrier.cf32"
    iq.astype(np.complex64).tofile(path)
    return path, PMR_FREQ_HZ - offset


def test_a_carrier_where_the_licence_says_fm_telephony_is_a_class_finding(tmp_path) -> None:
    path, centre_hz = _carrier_capture(tmp_path, 8801)
    prof = MonitoringProfile(name="pmr", f_start_hz=PMR_FREQ_HZ - 100e3, f_stop_hz=PMR_FREQ_HZ + 100e3,
                             bin_hz=300.0, dwell_s=0.25)
    with FileSource(path, sample_rate_hz=FS, center_freq_hz=centre_hz, fmt="cf32") as src:
        m = ProfileRunner(prof).measure(src)
    sent = Emissions("ah-hefei-n", 1, format_utc(T0), profile=m.profile, noise_floor_dbm=m.noise_floor_dbm,
                     emissions=m.emission_dicts())
    [got] = decode_as(sent.to_frames(), Emissions).emissions  # what the server receives
    assert abs(float(got["center_hz"]) - PMR_FREQ_HZ) < 300.0
    assert got["emission_class"] == "cw" and float(got["class_confidence"]) >= 0.6

    st = station("AH-PMR-0301", "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0, designator="11K0F3E")
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), load_rules(), InMemoryAlertStore())
    rng = np.random.default_rng(8802)
    events, t = [], T0
    for _ in range(4):
        for s in AH_DEEP_SENSORS:
            # the level each sensor would receive (15 dB over the licence, so an alert opens); the class
            # fields exactly as the live sensor sent them
            em = emission(s, *AH_DEEP_STATION_POS, erp_dbw=25.0, rng=rng, noise_db=2.0)
            if em is not None:
                em = {**em, "emission_class": got["emission_class"], "class_confidence": got["class_confidence"]}
            events += engine.observe(s, t, [em] if em else [], NOISE_FLOOR_DBM, s.antenna_factor_db_m)
        t += timedelta(seconds=5)
        events += engine.tick(t)
    [opened] = [e for e in events if e.event == "opened"]
    assert any(f.startswith("emission class: measured cw") and "expects nfm" in f for f in opened.alert.findings)
