"""Console network client against a minimal stand-in server (ROUTER + PUB on 127.0.0.1)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import zmq
from gui_testkit import spin, sweep

from coordination.protocol import AlertMsg, Heartbeat, Reply, Request, decode, utc_now_iso
from gui.client import AddressError, ServerClient, resolve_addresses


class StandIn:
    """ROUTER answering ping/echo (and ignoring 'silent'), plus a PUB the test publishes on."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.router = self.ctx.socket(zmq.ROUTER)
        self.pub = self.ctx.socket(zmq.PUB)
        for s in (self.router, self.pub):
            s.setsockopt(zmq.LINGER, 0)
        self.api_addr = f"tcp://127.0.0.1:{self.router.bind_to_random_port('tcp://127.0.0.1')}"
        self.pub_addr = f"tcp://127.0.0.1:{self.pub.bind_to_random_port('tcp://127.0.0.1')}"
        self.requests: list[Request] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.router.poll(10):
                continue
            ident, *frames = self.router.recv_multipart()
            req = decode(frames, allowed=(b"request",))
            self.requests.append(req)
            if req.op == "silent":
                continue
            arrays = (np.arange(4, dtype=np.float32),) if req.op == "arrays" else ()
            reply = Reply("server", req.seq, utc_now_iso(), ok=req.op != "fail",
                          result={"op": req.op, "args": dict(req.args)} if req.op != "fail" else None,
                          error="bad request" if req.op == "fail" else None, arrays=arrays)
            self.router.send_multipart([ident, *reply.to_frames()])

    def publish(self, topic: str, frames: list[bytes]) -> None:
        self.pub.send_multipart([topic.encode(), *frames])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.router.close(0)
        self.pub.close(0)
        self.ctx.term()


@pytest.fixture
def standin():
    s = StandIn()
    yield s
    s.close()


@pytest.fixture
def client(qapp, standin):
    c = ServerClient(standin.api_addr, standin.pub_addr, timeout_s=1.0)
    c.start()
    yield c
    c.stop()


def pump(qapp, client, box_items: list, pred, timeout_s: float = 5.0):
    """Drain like the window's frame timer does, collecting inboxes, until pred(collected)."""
    def step():
        box = client.drain()
        client.dispatch(box)
        if not box.empty():
            box_items.append(box)
        return pred()
    return spin(qapp, step, timeout_s)


def test_replies_reach_their_callbacks_in_the_draining_thread(qapp, standin, client):
    got: list[tuple[str, Reply]] = []
    errors: list[str] = []
    main = threading.get_ident()
    client.request("ping", {"x": 1}, lambda r: got.append((threading.get_ident(), r)), errors.append)
    client.request("arrays", {}, lambda r: got.append((threading.get_ident(), r)), errors.append)
    client.request("fail", {}, lambda r: got.append((0, r)), errors.append)
    pump(qapp, client, [], lambda: len(got) == 2 and errors)
    assert {r.result["op"] for _, r in got} == {"ping", "arrays"}
    assert all(tid == main for tid, _ in got)
    arr = next(r for _, r in got if r.result["op"] == "arrays").arrays[0]
    assert np.array_equal(arr, np.arange(4, dtype=np.float32))
    assert errors == ["bad request"]
    assert [r.op for r in standin.requests] == ["ping", "arrays", "fail"]
    assert standin.requests[0].args == {"x": 1} and standin.requests[0].sensor_id == "console"


def test_a_request_without_answer_times_out_with_a_clear_error(qapp, client):
    errors: list[str] = []
    t0 = time.monotonic()
    client.request("silent", {}, lambda r: None, errors.append)
    pump(qapp, client, [], lambda: errors, timeout_s=5.0)
    assert 0.9 < time.monotonic() - t0 < 3.0
    assert errors[0].startswith("no answer from tcp://127.0.0.1:") and "'silent'" in errors[0]


def test_publications_batched_per_drain_spectra_only_for_subscribed_sensors(qapp, standin, client):
    client.subscribe_spectra({"js-01"})
    boxes: list = []
    # slow joiner: publish a probe until the subscription is live
    def joined():
        standin.publish("spectrum.js-01", sweep(0).to_frames())
        return any("js-01" in b.spectra for b in boxes)
    pump(qapp, client, boxes, joined)
    boxes.clear()
    time.sleep(0.1)
    client.drain()
    for i in range(1, 51):
        standin.publish("spectrum.js-01", sweep(i).to_frames())
        standin.publish("spectrum.zj-02", sweep(i, sensor_id="zj-02").to_frames())
    standin.publish("alert.JS", AlertMsg("server", 1, utc_now_iso(), alert={"id": "A1", "event": "opened",
                                                                             "state": "open"}).to_frames())
    standin.publish("sensor.js-01", Heartbeat("js-01", 2, utc_now_iso(), health={"status_code": 0.0}).to_frames())
    standin.publish("spectrum.js-01", [b"spectrum", b"{not json"])  # hostile: counted, not fatal
    seqs: list[int] = []
    alerts: list[dict] = []
    pump(qapp, client, boxes, lambda: (seqs.extend(m.seq for b in boxes for m in b.spectra.get("js-01", [])),
                                       alerts.extend(a for b in boxes for a in b.alerts), boxes.clear(),
                                       len(seqs) >= 50 and alerts)[-1])
    assert seqs == list(range(1, 51))  # every sweep, in order, far fewer drains than messages
    assert alerts == [{"id": "A1", "event": "opened", "state": "open"}]
    spin(qapp, lambda: client.rejected >= 1)
    box = client.drain()
    assert "zj-02" not in box.spectra


def test_address_resolution():
    assert resolve_addresses("127.0.0.1") == ("tcp://127.0.0.1:5561", "tcp://127.0.0.1:5562")
    assert resolve_addresses("tcp://10.0.0.5:7000") == ("tcp://10.0.0.5:7000", "tcp://10.0.0.5:7001")
    assert resolve_addresses("host:7000", "host:9000") == ("tcp://host:7000", "tcp://host:9000")
    for bad in ("", "udp://x:1", "host:abc", ":5561", "host:70000"):
        with pytest.raises(AddressError):
            resolve_addresses(bad)
    with pytest.raises(AddressError, match="needs a port"):
        resolve_addresses("host", "pubhost")
