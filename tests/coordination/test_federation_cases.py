"""A case across two federated centres (ZJ and JS on one shared store): one case for the emitter,
handed over from ZJ to JS through each centre's own API, closed by JS, seen closed by ZJ, chain intact."""

from __future__ import annotations

import pytest
import zmq
from federation_testkit import EMITTER, SENSORS, Sensor, load_stations, play, start_centres
from server_testkit import wait_for

from coordination.cases import case_id_for
from coordination.client import ApiClient, ApiError

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "shared.db")
    return request.getfixturevalue("pg_url")


def test_case_handed_over_and_closed_across_two_federated_centres(tmp_path, shared):
    load_stations(shared)
    ctx = zmq.Context()
    servers = start_centres(tmp_path, ["JS", "ZJ"], shared)
    apis = {c: ApiClient(srv.endpoints["api"]) for c, srv in servers.items()}
    sensors = [Sensor(ctx, servers[s.province].endpoints["sensors"], s) for s in SENSORS]
    try:
        for s in sensors:
            s.hello()
        play(sensors, EMITTER, sweeps=8)
        alerts = wait_for(lambda: apis["ZJ"].result("alerts", {"state": "all"}), 10.0)
        assert len(alerts) == 1
        alert = alerts[0]
        cid = case_id_for(alert["id"])
        zj = {"by": "zj-duty", "as_provinces": ["ZJ"]}
        js = {"by": "js-duty", "as_provinces": ["JS"]}
        if alert["severity"] in ("major", "critical"):  # the owning centre opened it by itself
            wait_for(lambda: apis["ZJ"].result("cases", {"state": "all"}), 10.0)
        else:
            apis["ZJ"].result("case_open", {"alert_id": alert["id"]} | zj)
        # one open case for the emitter, seen by both centres (a case JS opened for its own alert before
        # it was linked to ZJ's is merged into it)
        for c in servers:
            got = wait_for(lambda c=c: apis[c].result("cases", {"state": "open"}), 10.0)
            assert [(x["id"], x["holder"]) for x in got] == [(cid, "ZJ")], c
        for other in apis["ZJ"].result("cases", {"state": "merged"}):
            assert other["merged_into"] == cid
        apis["ZJ"].result("case_act", {"id": cid, "action": "handover", "to": "JS",
                                       "reason": "the fix moved 3 km into Jiangsu"} | zj)
        with pytest.raises(ApiError, match="only JS"):
            apis["ZJ"].result("case_act", {"id": cid, "action": "handover_answer", "accept": True} | zj)
        apis["JS"].result("case_act", {"id": cid, "action": "handover_answer", "accept": True} | js)
        apis["JS"].result("case_act", {"id": cid, "action": "task", "kind": "field_search",
                                       "description": "search along the Taipu river"} | js)
        apis["JS"].result("case_act", {"id": cid, "action": "close", "outcome": "not_found",
                                       "summary": "off air before the team arrived"} | js)
        seen = apis["ZJ"].result("case", {"id": cid})
        assert (seen["state"], seen["holder"], seen["outcome"]) == ("closed", "JS", "not_found")
        kinds = [(e["kind"], e["province"]) for e in seen["events"] if e["kind"] != "note"]  # merge notes aside
        assert kinds[1:] == [("handover_asked", "ZJ"), ("handover_accepted", "JS"), ("task_added", "JS"),
                             ("closed", "JS")]
        for c in servers:
            assert apis[c].result("case_verify", {"id": cid})["ok"] is True
    finally:
        for s in sensors:
            s.close()
        for a in apis.values():
            a.close()
        for srv in servers.values():
            srv.stop()
        ctx.destroy(linger=0)
