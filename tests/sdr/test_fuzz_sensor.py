"""Hostile input into the sensor's uplink and command handler (hypothesis), over a real socket.

A ROUTER standing in for a (compromised or broken) server sends random and mutated Ack,
ProfileMsg and Command frames to a real SensorDaemon. Invariant: the daemon never raises, every
message is either accepted (counted per type) or rejected (counted), and the sensor keeps working.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sensor_testkit import FAST_PROFILE, write_scenario, write_sensor_config
from server_testkit import T0

from coordination.protocol import Ack, Command, ProfileMsg, format_utc
from sdr.config import load_config
from sdr.daemon import ManualClock, SensorDaemon
from sdr.scenario import load_scenario
from sdr.sources import SimulatedSource

#: Same examples on every run (CI stays deterministic); BORDERWATCH_FUZZ_RANDOM=1 explores new ones.
DERANDOMIZE = not os.environ.get("BORDERWATCH_FUZZ_RANDOM")



def templates() -> list[list[bytes]]:
    t = format_utc(T0)
    return [
        Ack("server", 1, t, acked=(1, 2, 3)).to_frames(),
        ProfileMsg("server", 2, t, profiles=(FAST_PROFILE,)).to_frames(),
        Command("server", 3, t, command_id="c1", action="switch_profile", params={"profile": "pmr"}).to_frames(),
        # evidence orders stay tiny so the bounded fuzz time goes into parsing, not into IQ capture
        Command("server", 4, t, command_id="c2", action="capture_iq",
                params={"duration_s": 0.002, "center_hz": 446.1e6, "alert_id": "A1"}).to_frames(),
    ]


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() |
                           st.text(max_size=30), lambda c: st.lists(c, max_size=3) |
                           st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=8)


@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    frames = [bytes(f) for f in draw(st.sampled_from(templates()))]
    h = json.loads(frames[1])
    how = draw(st.sampled_from(["field", "param", "drop", "flip", "extra"]))
    if how == "field":
        h[draw(st.sampled_from(sorted(h)))] = draw(json_values)
    elif how == "param" and isinstance(h.get("params"), dict):
        key = draw(st.sampled_from(["duration_s", "center_hz", "sample_rate_hz", "profile", "emission", "x"]))
        value = draw(json_values)
        if key == "duration_s" and isinstance(value, int | float) and not isinstance(value, bool):
            value = min(abs(value), 0.003)  # see templates(): valid durations stay tiny
        h["params"][key] = value
    elif how == "drop":
        del h[draw(st.sampled_from(sorted(h)))]
    elif how == "flip":
        raw = bytearray(frames[1])
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        return [frames[0], bytes(raw), *frames[2:]]
    else:
        return [*frames, draw(st.binary(max_size=256))]
    return [frames[0], json.dumps(h).encode(), *frames[2:]]


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-sensor")
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    cfg = load_config(write_sensor_config(tmp, f"tcp://127.0.0.1:{port}"))
    source = SimulatedSource(load_scenario(write_scenario(tmp)), "ZJ-T1", seed=5)
    daemon = SensorDaemon(cfg, source, clock=ManualClock())
    deadline = time.monotonic() + 10
    while not router.poll(10):  # the daemon's Hello: the connection is up
        daemon._handle(daemon.uplink.service(0.01))
        assert time.monotonic() < deadline
    router.recv_multipart()
    yield daemon, router
    daemon.close()
    router.close(0)
    ctx.term()


def deliver(daemon: SensorDaemon, router: zmq.Socket, frames: list[bytes]) -> None:
    up = daemon.uplink
    router.send_multipart([up.identity, *frames])  # the sensor's connection identity (<id>~<nonce>)
    before = up.stats.rejected_inbound + sum(up.stats.inbound.values())
    # The deadline bounds the wait for the count, not the handling: a command already counted may take
    # seconds to carry out on a loaded machine (an IQ capture), and that is no failure of this invariant.
    deadline = time.monotonic() + 5
    while up.stats.rejected_inbound + sum(up.stats.inbound.values()) == before:
        assert time.monotonic() < deadline, f"{frames[:2]!r} neither accepted nor rejected"
        daemon._handle(up.poll(0.01))  # the command handler: must never raise
    while router.poll(0):  # whatever the sensor sent back (its spool rows)
        router.recv_multipart()


@settings(max_examples=300, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=list(HealthCheck))
@given(frames=st.one_of(mutated(), st.lists(st.binary(max_size=300), min_size=1, max_size=5)))
def test_every_hostile_server_message_is_accepted_or_counted(rig, frames):
    daemon, router = rig
    deliver(daemon, router, frames)


def test_sensor_still_obeys_a_valid_command_after_the_fuzz(rig):
    daemon, router = rig
    n = daemon.stats.commands
    deliver(daemon, router, templates()[2])
    assert daemon.stats.commands == n + 1
    assert daemon.uplink.stats.rejected_inbound > 0  # the fuzz above was counted
