"""Demo judging and views without a network: synthetic alerts on the shipped scenario's transmitters."""

from __future__ import annotations

from borderwatch.demo import AlertLog, DeliveryReport, DemoResult, judge


def alert(aid, f_hz, verdicts, src, aff, lat, lon, *, event="opened", state="open", evidence=(), err_km=5.0,
          method="fused", sensors=("S1", "S2", "S3", "S4")):
    """An alert document as the server publishes it (only the fields the judge and views read)."""
    return {"id": aid, "event": event, "state": state, "verdicts": list(verdicts), "severity": "major",
            "band": "PMR 400", "f_center_hz": f_hz, "provinces_source": list(src), "provinces_affected": list(aff),
            "position": {"lat": lat, "lon": lon, "error_km": err_km, "kind": "ellipse", "method": method},
            "sensors": [{"sensor_id": s, "measured_dbm": -90.0} for s in sensors], "evidence": list(evidence),
            "first_seen": "2026-11-25T08:00:00.000000Z"}


GOOD = {
    "a1": alert("a1", 100.1001e6, ["unlicensed", "cross_border"], ["ZJ"], ["JS"], 30.79, 120.61),
    "a2": alert("a2", 410.2133e6, ["cross_border", "licence_violation"], ["AH"], ["JS"], 31.70, 118.60),
    "a3": alert("a3", 156.7999e6, ["unlicensed", "cross_border"], ["SH"], ["JS"], 31.53, 121.55),
    "a4": alert("a4", 152.3799e6, ["cross_border", "licence_violation"], ["ZJ"], ["JS", "SH"], 30.75, 120.75),
    "f1": alert("f1", 100.9002e6, ["cross_border"], ["ZJ"], ["SH"], 30.71, 120.90),
    "f2": alert("f2", 99.7998e6, ["cross_border"], ["JS"], ["SH", "ZJ"], 31.47, 121.09),
}
ROUTES = {"a1": {"ZJ", "JS"}, "a2": {"AH", "JS"}, "a3": {"AH", "JS", "SH", "ZJ"}, "a4": {"ZJ", "JS", "SH"},
          "f1": {"ZJ", "SH"}, "f2": {"JS", "SH", "ZJ"}}


def result_for(demo, docs, routes, problems=()):
    """A DemoResult judged from ``docs`` with a clean delivery (plus ``problems``)."""
    outcomes, stray = judge(demo, docs, routes)
    delivery = DeliveryReport({}, 0, {"spectrum": 10, "emissions": 10},
                              {"S1": {"spooled": 20, "stored": 20, "missing": 0, "spool_dropped": 0,
                                      "spool_depth": 0}}, list(problems))
    return DemoResult("test", 90.0, None, outcomes, stray, delivery, 12, 30.0, 16)


class FakeNetwork:
    """Just enough of DemoNetwork for the views (no server: the API calls fail and are skipped)."""

    def __init__(self, demo):
        self.scenario = demo.scenario
        self.alerts = AlertLog()
        self.server = None
        self.data_dir = "/tmp/x"

    def elapsed_s(self):
        return 12.0

    def api(self):
        raise ConnectionError("no server in this test")

    def counters(self):
        raise ConnectionError("no server in this test")
