"""The protocol-level client on real loopback sockets: replies matched by seq, publications decoded."""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from coordination.client import ApiClient, ApiError, Subscription, parse_publication
from coordination.protocol import AlertMsg, Heartbeat, ProtocolError, Reply, Request, decode_as, utc_now_iso


def _alert(seq: int, aid: str) -> list[bytes]:
    return AlertMsg("server", seq, utc_now_iso(), alert={"id": aid, "event": "opened", "state": "open"}).to_frames()


def _answer(router: zmq.Socket, *, ok: bool = True, reverse: bool = False, n: int = 1) -> list[Request]:
    """Serve ``n`` requests as a server would (reply echoes seq), optionally answering in reverse order."""
    got = []
    for _ in range(n):
        assert router.poll(2000)
        ident, *frames = router.recv_multipart()
        got.append((ident, decode_as(frames, Request)))
    for ident, req in reversed(got) if reverse else got:
        reply = Reply("server", req.seq, utc_now_iso(), ok=ok, result={"op": req.op},
                      error=None if ok else f"unknown op {req.op!r}")
        router.send_multipart([ident, *reply.to_frames()])
    return [r for _, r in got]


def test_call_matches_its_reply_by_seq_and_result_raises_the_servers_refusal(ctx, loopback_port):
    router = ctx.socket(zmq.ROUTER)
    router.bind(f"tcp://127.0.0.1:{loopback_port}")
    with ApiClient(f"tcp://127.0.0.1:{loopback_port}", ctx=ctx, timeout_s=2.0) as api:
        first = api.send("alerts")
        second = api.send("sensors")
        _answer(router, n=2, reverse=True)  # the server answers out of order
        deadline = time.monotonic() + 2.0
        replies: list[Reply] = []
        while len(replies) < 2 and time.monotonic() < deadline:
            api.sock.poll(100)
            replies += api.replies()
        assert {r.seq: r.result["op"] for r in replies} == {first: "alerts", second: "sensors"}
        t = threading.Thread(target=_answer, args=(router,), kwargs={"ok": False})
        t.start()
        with pytest.raises(ApiError, match="unknown op 'nope'"):
            api.result("nope")
        t.join()


def test_call_times_out_when_nobody_answers(ctx, loopback_port):
    router = ctx.socket(zmq.ROUTER)
    router.bind(f"tcp://127.0.0.1:{loopback_port}")
    with ApiClient(f"tcp://127.0.0.1:{loopback_port}", ctx=ctx, timeout_s=0.3) as api:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match=r"no answer from .* to 'silent' within 0\.3 s"):
            api.call("silent")
        assert 0.25 <= time.monotonic() - t0 < 2.0


def test_subscription_decodes_alerts_and_drops_and_counts_everything_else(ctx, loopback_port):
    pub = ctx.socket(zmq.PUB)
    pub.bind(f"tcp://127.0.0.1:{loopback_port}")
    rejected: list[str] = []
    with Subscription(f"tcp://127.0.0.1:{loopback_port}", ["alert.ZJ"], ctx=ctx, on_reject=rejected.append) as sub:
        got = []
        deadline = time.monotonic() + 5.0
        while not got and time.monotonic() < deadline:  # a SUB joins late: publish until it hears
            pub.send_multipart([b"alert.ZJ", *_alert(0, "warm-up")])
            got = sub.read() if sub.wait(50) else []
        sub.read()
        pub.send_multipart([b"alert.ZJ", *_alert(1, "A1")])
        pub.send_multipart([b"alert.ZJ", b"alert", b"{not json"])
        pub.send_multipart([b"alert.ZJ", *Heartbeat("s1", 2, utc_now_iso(), health={"cpu": 1.0}).to_frames()])
        pub.send_multipart([b"alert.JS", *_alert(3, "A3")])  # not subscribed
        pub.send_multipart([b"alert.ZJ", *_alert(4, "A4")])
        pubs = []
        deadline = time.monotonic() + 5.0
        while len(pubs) < 2 and time.monotonic() < deadline:
            if sub.wait(100):
                pubs += sub.read()
        assert [(p.province, p.msg.alert["id"]) for p in pubs] == [("ZJ", "A1"), ("ZJ", "A4")]
        assert sub.rejected == 2 and len(rejected) == 2 and "type" in rejected[1]


def test_a_publication_needs_a_topic_and_a_message():
    with pytest.raises(ProtocolError, match="topic and a message"):
        parse_publication([b"alert.ZJ", b"alert"])
    with pytest.raises(ProtocolError, match="not ASCII"):
        parse_publication([b"\xff", *_alert(1, "A1")])
    assert parse_publication([b"sensor.s1", *_alert(1, "A1")]).province == "sensor.s1"
