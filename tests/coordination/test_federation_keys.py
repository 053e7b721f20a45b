"""Federated centres that see one emitter at different times and through different sensor sets: which
alert stands for it (the cluster keys), and when a centre may close its grouping windows (the peers'
forwarded reports); one shared SQLite store, real ZeroMQ on 127.0.0.1, no engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import zmq
from server_testkit import make_alert, wait_for

from coordination.federation import FED_TAG, Federation, FederationConfig, FederationPort
from coordination.protocol import Emissions, format_utc
from coordination.store import Store
from coordination.transport import SocketFactory


def test_a_centre_that_sees_more_provinces_links_to_the_owners_alert_when_they_share_a_sensor(tmp_path, ctx):
    """The owner (ZJ, the source) claimed the emitter under the key of the provinces its sensors showed
    (SH,ZJ); a peer whose engine also had a Jiangsu sensor by then (JS,SH,ZJ) links to that alert instead of
    standing a second one after the owner grace. A same-channel alert sharing no sensor stays apart."""
    db = tmp_path / "shared.db"
    centres = {}
    for code in ("ZJ", "SH"):
        store = Store(db, centre=code)
        fed = Federation(FederationConfig(centre=code, database=str(db), bind_addr="tcp://127.0.0.1:*",
                                          insecure=True))
        fed.attach(FederationPort(sockets=SocketFactory(ctx), store=store, engine=None,
                                  handle_events=lambda evs: None, publish=lambda doc, topics: None,
                                  clock=lambda: datetime.now(UTC)))
        centres[code] = (fed, store)
    zj, sh = centres["ZJ"][0], centres["SH"][0]
    owner = make_alert("A-ZJ", source=("ZJ",), affected=("SH",),
                       sensors=[("ZJ-JIASHAN", "ZJ"), ("SH-QINGPU", "SH")])
    zj.save_alert(owner)
    centres["ZJ"][1].commit()
    peer = make_alert("A-SH", source=("ZJ",), affected=("SH", "JS"),
                      sensors=[("ZJ-JIASHAN", "ZJ"), ("SH-QINGPU", "SH"), ("JS-WUJIANG-LILI", "JS")])
    other = make_alert("A-SH-2", source=("SH",), affected=("JS",),
                       sensors=[("SH-CHONGMING", "SH"), ("JS-QIDONG", "JS")])
    try:
        sh.save_alert(peer)
        sh.save_alert(other)
        store = centres["SH"][1]
        store.commit()
        assert store.alerts.alert_link("A-SH") == "A-ZJ"  # linked at once, not held for the owner grace
        assert store.alerts.alert_link("A-SH-2") is None  # SH owns it (its source): claimed, standing alone
        assert sorted(d["id"] for d in store.alerts.list_alert_json()) == ["A-SH-2", "A-ZJ"]
    finally:
        for fed, store in centres.values():
            fed.close()
            store.close()


def test_windows_close_only_once_every_peer_heard_from_lately_has_reported_past_them(tmp_path, ctx):
    store = Store(tmp_path / "shared.db", centre="JS")
    fed = Federation(FederationConfig(centre="JS", database=str(tmp_path / "shared.db"),
                                      bind_addr="tcp://127.0.0.1:*", insecure=True, owner_grace_s=0.5))
    fed.attach(FederationPort(sockets=SocketFactory(ctx), store=store, engine=None, handle_events=lambda evs: None,
                              publish=lambda doc, topics: None, clock=lambda: datetime.now(UTC)))
    peer = ctx.socket(zmq.DEALER)
    peer.setsockopt(zmq.LINGER, 0)
    peer.connect(fed.endpoint)

    def forward(centre: str, sensor_id: str, seq: int, lag_s: float) -> None:
        head = json.dumps({"centre": centre, "sensor": {"sensor_id": sensor_id, "province": centre, "lat": 30.83,
                                                        "lon": 120.92, "height_m": 30.0,
                                                        "antenna_factor_db_m": 20.0}}).encode()
        msg = Emissions(sensor_id, seq, format_utc(now - timedelta(seconds=lag_s)), profile="pmr446",
                        noise_floor_dbm=-110.0, antenna_factor_db_m=20.0)
        peer.send_multipart([FED_TAG, head, *msg.to_frames()])

    try:
        now = datetime.now(UTC).replace(microsecond=0)
        assert fed.judge_time(now) == now  # no peer heard from: nothing holds the windows
        forward("ZJ", "ZJ-JIASHAN", 1, 0.3)  # ZJ's reports 0.3 s behind ours
        forward("ZJ", "ZJ-JIASHAN", 2, 0.45)  # an older one does not pull the mark back
        wait_for(lambda: fed.service() or fed.counters["received"] == 2)
        assert fed.judge_time(now) == now - timedelta(seconds=0.3)
        forward("SH", "SH-QINGPU", 1, 60.0)  # SH's sensors' clocks a minute behind: held back by the grace only
        wait_for(lambda: fed.service() or fed.counters["received"] == 3)
        assert fed.judge_time(now) == now - timedelta(seconds=0.5)
        # both silent for longer than the owner grace (down, or nothing to report): nothing holds the windows
        wait_for(lambda: fed.judge_time(now) == now, 3.0)
    finally:
        peer.close(0)
        fed.close()
        store.close()
