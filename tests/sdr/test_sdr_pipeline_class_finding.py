"""A live sensor's emission class reaches the rules engine: pipeline -> Emissions on the wire -> finding."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
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
from dsp.synth import known_signal
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
    [got] = _on_wire(path, centre_hz, prof)  # what the server receives
    assert abs(float(got["center_hz"]) - PMR_FREQ_HZ) < 300.0
    assert got["emission_class"] == "cw" and float(got["class_confidence"]) >= 0.6

    findings = _findings(tmp_path, got, "11K0F3E", 11_000.0, station_id="AH-PMR-0301", seed=8802)
    assert any(f.startswith("emission class: measured cw") and "expects nfm" in f for f in findings)


def _on_wire(path, centre_hz: float, prof: MonitoringProfile) -> list[dict]:
    """What the server receives from a live sensor that measured the capture with ``prof``."""
    with FileSource(path, sample_rate_hz=FS, center_freq_hz=centre_hz, fmt="cf32") as src:
        m = ProfileRunner(prof).measure(src)
    sent = Emissions("ah-hefei-n", 1, format_utc(T0), profile=m.profile, noise_floor_dbm=m.noise_floor_dbm,
                     emissions=m.emission_dicts())
    return list(decode_as(sent.to_frames(), Emissions).emissions)


def _noise(rng: np.random.Generator, n: int, n0_per_hz: float) -> np.ndarray:
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * math.sqrt(n0_per_hz * FS / 2)


def fsk_capture(tmp_path, seed: int, snr_db: float):
    """A 2-FSK telemetry transmitter in packets (dsp.synth), centred on the licensed frequency: cf32 file and
    the tuner's centre frequency."""
    ks = known_signal("2fsk", snr_db=snr_db, seed=seed, sample_rate_hz=FS, duration_s=0.5)
    offset = 300e3  # moved there from where dsp.synth put it (the noise is white: it moves along)
    iq = ks.iq * np.exp(2j * np.pi * (offset - ks.center_hz) * np.arange(ks.iq.size) / FS)
    path = tmp_path / f"fsk_{seed}_{snr_db:g}.cf32"
    iq.astype(np.complex64).tofile(path)
    return path, PMR_FREQ_HZ - offset


def fm_broadcast_capture(tmp_path, seed: int, snr_db: float):
    """A broadcast FM transmitter (programme audio 50 Hz-15 kHz, 19 kHz pilot, 75 kHz peak deviation), on
    throughout, centred on the licensed frequency, ``snr_db`` over the noise in its 99 % bandwidth (about
    180 kHz); 0.25 s of cf32 and the tuner's centre frequency."""
    rng = np.random.default_rng(seed)
    n = int(0.25 * FS)
    t = np.arange(n) / FS
    freqs = np.exp(rng.uniform(np.log(50.0), np.log(15e3), 12))
    audio = sum(rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs)
    audio = 0.9 * audio / np.max(np.abs(audio)) + 0.1 * np.sin(2 * np.pi * 19e3 * t)
    offset = 300e3
    wave = np.exp(2j * np.pi * (offset * t + 75e3 * np.cumsum(audio) / FS))
    n0 = 1.0 / (10 ** (snr_db / 10) * 180e3)
    path = tmp_path / f"fm_{seed}_{snr_db:g}.cf32"
    (wave + _noise(rng, n, n0)).astype(np.complex64).tofile(path)
    return path, PMR_FREQ_HZ - offset


def _findings(tmp_path, got: dict, designator: str, necessary_bw_hz: float, *, station_id: str = "AH-TLM-0401",
              seed: int = 8803) -> tuple[str, ...]:
    """The findings of the alert the engine opens for a licensed station heard 15 dB over its licence, each
    sensor's report carrying the class fields exactly as the live sensor sent them."""
    st = station(station_id, "AH", *AH_DEEP_STATION_POS, erp_dbw=10.0, designator=designator,
                 necessary_bw_hz=necessary_bw_hz)
    engine = RulesEngine(make_repo(tmp_path / "st.db", [st]), load_rules(), InMemoryAlertStore())
    rng = np.random.default_rng(seed)
    events, t = [], T0
    for _ in range(4):
        for s in AH_DEEP_SENSORS:
            em = emission(s, *AH_DEEP_STATION_POS, erp_dbw=25.0, rng=rng, noise_db=2.0)
            if em is not None:
                em = {**em, "emission_class": got["emission_class"], "class_confidence": got["class_confidence"]}
            events += engine.observe(s, t, [em] if em else [], NOISE_FLOOR_DBM, s.antenna_factor_db_m)
        t += timedelta(seconds=5)
        events += engine.tick(t)
    [opened] = [e for e in events if e.event == "opened"]
    return tuple(opened.alert.findings)


SRD_PROFILE = MonitoringProfile(name="srd", f_start_hz=PMR_FREQ_HZ - 150e3, f_stop_hz=PMR_FREQ_HZ + 150e3,
                                bin_hz=FS / 2048, dwell_s=0.5, channel_raster_hz=25e3, channel_width_hz=25e3)
FM_PROFILE = MonitoringProfile(name="fm", f_start_hz=PMR_FREQ_HZ - 200e3, f_stop_hz=PMR_FREQ_HZ + 200e3,
                               bin_hz=FS / 2048, dwell_s=0.25, channel_raster_hz=100e3, channel_width_hz=200e3)


@pytest.mark.parametrize("snr_db", [10.0, 30.0])
def test_a_2fsk_device_under_an_fsk_data_licence_raises_no_class_finding(tmp_path, snr_db) -> None:
    path, centre_hz = fsk_capture(tmp_path, 8811, snr_db)
    [got] = _on_wire(path, centre_hz, SRD_PROFILE)
    # measured as what it is (tones switching slot by slot), not as a wideband digital block
    assert got["emission_class"] == "2fsk" and float(got["class_confidence"]) >= 0.6, got
    findings = _findings(tmp_path, got, "40K0F1D", 40e3)
    assert findings and not any(f.startswith("emission class") for f in findings), findings


@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
def test_fm_broadcast_under_an_fsk_data_licence_is_a_class_finding(tmp_path, snr_db) -> None:
    path, centre_hz = fm_broadcast_capture(tmp_path, 8821, snr_db)
    [got] = _on_wire(path, centre_hz, FM_PROFILE)
    assert abs(float(got["center_hz"]) - PMR_FREQ_HZ) < 2e3
    assert got["emission_class"] == "fm_broadcast" and float(got["class_confidence"]) >= 0.6, got
    findings = _findings(tmp_path, got, "40K0F1D", 40e3)
    assert any(f.startswith("emission class: measured fm_broadcast") and "expects 2fsk or 4fsk" in f
               for f in findings), findings
