"""What the demo's simulated sensors record when the server orders a TDOA snapshot.

The server orders a synchronised snapshot (reference broadcaster, target, reference again) from every
sensor that heard a new alert (coordination/tdoa_orders.py). A simulated sensor cannot take it from its
streaming :class:`~sdr.sources.simulated.SimulatedSource` (that draws each emitter independently per
sensor: the levels are right, the waveforms unrelated); it takes it from a :class:`DemoSnapshots`, the
daemon's ``snapshot_source`` factory, which renders the recording with
:class:`sdr.sources.sim_tdoa.SnapshotRenderer`:

- the same transmitters as the play (the scenario's, on the air at the ordered moment of the play, the
  reference broadcasters included), in the same world (:func:`borderwatch.demo_propagation.demo_world`),
  with one waveform per transmitter shared by every sensor (one renderer per ordered plan);
- this sensor's own dongle: its crystal error is the scenario's ``ppm_error`` (sample clock and LO run on
  the same crystal, as on an RTL-SDR), its start error is an NTP-disciplined host's: uniform within
  +-``START_OFFSET_S``, drawn per order from the scenario seed and the sensor id (runs repeat).

Why not :class:`~sdr.sources.sim_tdoa.SimulatedSnapshots` as it stands: it draws each order's crystal
error afresh within +-``ppm``, so a sensor's snapshot would run on another crystal than its sweeps; the
scenario states each sensor's error, and that is the one used here.

Only continuous waveforms can be timed: FM broadcast and NFM transmitters are rendered (the demo's
kinds); a carrier or burst modulation is left out of the snapshot (the round then finds nothing to
correlate and the alert keeps its received-level position, as it would in the field for a bare carrier).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

import numpy as np

from sdr.scenario import Scenario, SensorSite, Transmitter
from sdr.sources.sim_link import PropagationModel
from sdr.sources.sim_tdoa import (
    TDOA_WAVEFORMS,
    DongleClock,
    RecordingSource,
    SnapshotPlan,
    SnapshotRenderer,
    TdoaEmitter,
)

#: Start-time error of a sensor whose host clock is NTP-disciplined (s, uniform +-): the server's
#: default ``[clock] sigma_s`` and the issue's +-10 ms.
START_OFFSET_S = 0.01
#: The scenario modulations a snapshot renders, and the renderer's waveform for each.
SNAPSHOT_KINDS = {"fm_broadcast": "fm_broadcast", "nfm": "nfm"}


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "little")


def snapshot_emitters(scenario: Scenario) -> tuple[TdoaEmitter, ...]:
    """Every transmitter of the scenario a snapshot can render, with its waveform (seeded per transmitter)."""
    out = []
    for tx in scenario.transmitters:
        kind = SNAPSHOT_KINDS.get(tx.modulation)
        if kind is None:
            continue
        out.append(TdoaEmitter(tx, kind, TDOA_WAVEFORMS[kind], _seed(scenario.seed, "waveform", tx.id)))
    return tuple(out)


def _on_air(tx: Transmitter, t_s: float) -> bool:
    return tx.scheduled_on(t_s)


class RendererPool:
    """One renderer per ordered plan and set of transmitters on the air, shared by every sensor of the play
    (so all sensors of one round hear the same waveforms); thread-safe (each sensor is a thread)."""

    def __init__(self, model: PropagationModel, seed: int) -> None:
        self.model = model
        self.seed = seed
        self._renderers: dict[tuple[object, ...], SnapshotRenderer] = {}
        self._lock = threading.Lock()

    def renderer(self, plan: SnapshotPlan, emitters: tuple[TdoaEmitter, ...]) -> SnapshotRenderer:
        key = (plan, tuple(e.tx.id for e in emitters))
        with self._lock:
            found = self._renderers.get(key)
            if found is None:
                found = self._renderers[key] = SnapshotRenderer(emitters, self.model, plan, seed=self.seed)
            return found


class DemoSnapshots:
    """A simulated sensor's ``snapshot_source`` (:class:`sdr.daemon.SnapshotSourceFactory`)."""

    def __init__(self, site: SensorSite, emitters: tuple[TdoaEmitter, ...], pool: RendererPool, *,
                 play_time_s: Callable[[], float], seed: int) -> None:
        """``play_time_s()``: the play's elapsed seconds (the scenario's schedules are in them)."""
        self.site = site
        self.emitters = emitters
        self.pool = pool
        self.play_time_s = play_time_s
        self.seed = seed
        self.orders = 0

    def clock(self) -> DongleClock:
        """This order's dongle timing: the scenario's crystal error, a seeded start error."""
        rng = np.random.default_rng(_seed(self.seed, "clock", self.site.id, self.orders))
        return DongleClock(ppm=self.site.ppm_error, start_offset_s=float(rng.uniform(-START_OFFSET_S, START_OFFSET_S)))

    def __call__(self, ref_hz: float, target_hz: float, sample_rate_hz: float, ref_samples: int,
                 target_samples: int, settle_samples: int) -> RecordingSource:
        plan = SnapshotPlan(ref_hz, target_hz, sample_rate_hz, ref_samples, target_samples, settle_samples)
        t_s = self.play_time_s()
        reach_hz = sample_rate_hz / 2
        emitters = tuple(e for e in self.emitters if _on_air(e.tx, t_s) and min(
            abs(e.tx.emitted_freq_hz - ref_hz), abs(e.tx.emitted_freq_hz - target_hz)) < reach_hz + e.bandwidth_hz)
        clock = self.clock()
        self.orders += 1
        win = self.pool.renderer(plan, emitters).render(self.site, clock)
        return RecordingSource(win.iq, sample_rate_hz, ref_hz)
