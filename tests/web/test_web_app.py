"""The web view over real HTTPS against a real coordination server: tokens, scope, actions, validation, SSE."""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from case_testkit import T0, alert_doc
from web_testkit import JS_MINOR_ALERT, JS_SH_ALERT, ZJ_ALERT, WebWorld, start_web_world

from coordination.cases import case_id_for
from station_db.hyperbolas import great_circle_km

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 200  # 51 208 bytes: two upload chunks


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    yield from start_web_world(tmp_path_factory.mktemp("web"))


def _login_cookie(world: WebWorld, team: str) -> str:
    r = world.client.post("/login", form={"token": world.tokens[team]})
    assert r.status == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    return cookie.split(";", 1)[0]


@pytest.mark.parametrize("path,method", [("/", "GET"), ("/alerts/" + JS_SH_ALERT, "GET"), ("/events", "GET"),
                                         ("/alerts/" + JS_SH_ALERT + "/ack", "POST"), ("/login", "POST")])
def test_wrong_and_revoked_tokens_get_401_and_nothing_else(world: WebWorld, path: str, method: str) -> None:
    for token in ("not-a-token", world.tokens["zj-team"], world.tokens["js-team"] + "x"):
        if path == "/login":
            r = world.client.post(path, form={"token": token})
        else:
            r = world.client.request(method, path, token=token)
        assert (r.status, r.body) == (401, b"")
        assert "set-cookie" not in r.headers
        r = world.client.request(method, path, cookie=f"bw_token={token}") if path != "/login" else r
        assert (r.status, r.body) == (401, b"")


def test_no_token_browser_is_sent_to_login_and_api_clients_get_401(world: WebWorld) -> None:
    r = world.client.get("/")
    assert (r.status, r.headers["location"]) == (303, "/login")
    assert world.client.get("/", accept="application/json").status == 401


def test_revoking_a_token_shuts_the_team_out_at_its_next_request(world: WebWorld, tmp_path: Path) -> None:
    token, _ = world.token_store.new("sh-night-shift", ("SH",))
    assert world.client.get("/", token=token).status == 200
    world.token_store.revoke("sh-night-shift")
    r = world.client.get("/", token=token)
    assert (r.status, r.body) == (401, b"")


def test_js_team_sees_only_alerts_that_involve_js(world: WebWorld) -> None:
    r = world.client.get("/", token=world.tokens["js-team"])
    assert r.status == 200
    assert JS_SH_ALERT in r.text and JS_MINOR_ALERT in r.text
    assert ZJ_ALERT not in r.text
    assert "js-01" in r.text and "zj-01" not in r.text  # another province's sensor is not on JS's map
    for path in (f"/alerts/{ZJ_ALERT}", f"/cases/{case_id_for(ZJ_ALERT)}"):
        assert world.client.get(path, token=world.tokens["js-team"]).status == 404
    r = world.client.post(f"/alerts/{ZJ_ALERT}/ack", token=world.tokens["js-team"], form={"note": "mine?"})
    assert r.status == 404
    assert world.centre.alert(ZJ_ALERT)["state"] == "open"
    assert world.client.get(f"/alerts/{ZJ_ALERT}", token=world.tokens["sh-team"]).status == 404
    assert world.client.get(f"/alerts/{JS_SH_ALERT}", token=world.tokens["sh-team"]).status == 200


ID_ROUTES = [("GET", "/alerts/{alert}"), ("POST", "/alerts/{alert}/ack"), ("POST", "/alerts/{alert}/case"),
             ("GET", "/cases/{case}"), ("POST", "/cases/{case}/note"), ("POST", "/cases/{case}/close"),
             ("POST", "/cases/{case}/photo"), ("GET", "/cases/{case}/attachments/" + "0" * 64)]


@pytest.mark.parametrize("method,template", ID_ROUTES)
def test_every_route_about_one_record_hides_other_provinces_and_unknown_ids_alike(world: WebWorld, method: str,
                                                                                 template: str) -> None:
    zj_case = case_id_for(ZJ_ALERT)  # critical: the server opened its case, held by ZJ
    before = (world.centre.alert(ZJ_ALERT)["state"], world.centre.n_events(zj_case))
    js = world.tokens["js-team"]
    for alert_id, case_id in ((ZJ_ALERT, zj_case), ("20261203T070000-zz000009", "C-no-such-case")):
        path = template.format(alert=alert_id, case=case_id)
        r = world.client.request(method, path, token=js, form={"text": "mine?", "note": "mine?", "outcome": "stopped"}
                                 if method == "POST" else None)
        assert r.status == 404, path
        assert ZJ_ALERT not in r.text  # the 404 page names nothing of the record
        r = world.client.request(method, path, token=js + "x")
        assert (r.status, r.body) == (401, b""), path
    assert (world.centre.alert(ZJ_ALERT)["state"], world.centre.n_events(zj_case)) == before  # nothing was written


def test_map_draws_provinces_sensors_and_the_position_ellipse(world: WebWorld) -> None:
    r = world.client.get(f"/alerts/{JS_SH_ALERT}", token=world.tokens["js-team"])
    assert 'data-province="JS"' in r.text and 'data-province="SH"' in r.text
    assert "<ellipse" in r.text and "js-kunshan" in r.text  # the alert's own readings on its map


def test_case_flow_note_photo_task_on_site_close(world: WebWorld) -> None:
    js = _login_cookie(world, "js-team")
    r = world.client.post(f"/alerts/{JS_MINOR_ALERT}/case", cookie=js)
    case_id = case_id_for(JS_MINOR_ALERT)
    assert (r.status, r.headers["location"]) == (303, f"/cases/{case_id}")
    assert world.client.post(f"/cases/{case_id}/note", cookie=js, form={"text": "parked by the toll gate"}
                             ).status == 303
    r = world.client.post(f"/cases/{case_id}/photo", cookie=js, file=("file", "antenna.png", PNG))
    assert r.status == 303, r.text[:500]
    world.client.post(f"/cases/{case_id}/task", cookie=js, form={"kind": "field_search", "description": "roofs"})
    world.client.post(f"/cases/{case_id}/on_site", cookie=js, form={"lat": "32.051", "lon": "119.402",
                                                                      "accuracy_m": "8.5"})
    world.client.post(f"/cases/{case_id}/task_done", cookie=js, form={"task_id": "T1", "result": "found it"})
    r = world.client.post(f"/cases/{case_id}/close", cookie=js, form={"outcome": "stopped", "summary": "off"})
    assert r.status == 303
    c = world.centre.case_json(case_id)
    assert [e["kind"] for e in c["events"]] == ["opened", "note", "attachment", "task_added", "on_site",
                                                "task_done", "closed"]
    assert c["attachments"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert c["attachments"][0]["size_bytes"] == len(PNG)
    assert c["on_site"][0]["lat"] == pytest.approx(32.051) and c["on_site"][0]["accuracy_m"] == pytest.approx(8.5)
    assert (c["state"], c["outcome"], c["closed_by"]) == ("closed", "stopped", "js-team")
    img = world.client.get(f"/cases/{case_id}/attachments/{c['attachments'][0]['sha256']}", cookie=js)
    assert (img.status, img.headers["content-type"], img.body) == (200, "image/png", PNG)
    assert world.client.get(f"/cases/{case_id}/attachments/{c['attachments'][0]['sha256']}",
                            token=world.tokens["sh-team"]).status == 404


@pytest.mark.parametrize("action,form,message", [
    ("note", {"text": "   "}, "Write a note (1 to 4000 characters)."),
    ("note", {"text": "x" * 4001}, "Write a note (1 to 4000 characters)."),
    ("close", {"outcome": "solved"}, "Choose an outcome."),
    ("close", {"outcome": "stopped", "summary": "y" * 4001}, "The summary is longer than 4000 characters."),
    ("on_site", {"lat": "91", "lon": "120", "accuracy_m": "5"}, "Position: latitude -90..90"),
    ("on_site", {"lat": "abc", "lon": "120", "accuracy_m": "5"}, "Position: latitude -90..90"),
    ("task_done", {"task_id": "T1; drop", "result": "x"}, "Choose a task."),
    ("task", {"kind": "arrest", "description": ""}, "Choose a task kind."),
    ("handover", {"to": "js!", "reason": ""}, "Give a reason (1 to 4000 characters)."),
])
def test_every_form_input_is_validated_with_a_clear_message(world: WebWorld, action: str, form: dict,
                                                             message: str) -> None:
    world.client.post(f"/alerts/{JS_SH_ALERT}/case", token=world.tokens["js-team"])
    case_id = case_id_for(JS_SH_ALERT)
    before = world.centre.n_events(case_id)
    r = world.client.post(f"/cases/{case_id}/{action}", token=world.tokens["js-team"], form=form)
    assert r.status == 422
    assert message in r.text and 'role="alert"' in r.text
    assert world.centre.n_events(case_id) == before


def test_uploads_are_checked_by_type_and_content(world: WebWorld) -> None:
    world.client.post(f"/alerts/{JS_SH_ALERT}/case", token=world.tokens["js-team"])
    case_id = case_id_for(JS_SH_ALERT)
    tok = world.tokens["js-team"]
    r = world.client.post(f"/cases/{case_id}/photo", token=tok, file=("file", "fake.jpg", b"MZ\x90\x00 exe"))
    assert r.status == 422 and "does not match its type" in r.text
    r = world.client.post(f"/cases/{case_id}/photo", token=tok, file=("file", "run.sh", b"#!/bin/sh"))
    assert r.status == 422 and "Only JPEG, PNG or WebP" in r.text
    r = world.client.post(f"/cases/{case_id}/photo", token=tok, file=("file", "", b""))
    assert r.status == 422 and "Choose a file" in r.text


def test_acknowledge_goes_to_the_server_in_the_teams_name(world: WebWorld) -> None:
    r = world.client.post(f"/alerts/{JS_SH_ALERT}/ack", token=world.tokens["js-team"], form={"note": "on our way"})
    assert (r.status, r.headers["location"]) == (303, f"/alerts/{JS_SH_ALERT}")
    a = world.centre.alert(JS_SH_ALERT)
    assert (a["state"], a["acknowledged_by"], a["note"]) == ("acknowledged", "js-team", "on our way")



def test_the_servers_refusal_is_shown_to_the_team(world: WebWorld) -> None:
    case_id = case_id_for(JS_SH_ALERT)  # major: opened by the server, held by JS; SH is involved (affected)
    r = world.client.post(f"/cases/{case_id}/close", token=world.tokens["sh-team"], form={"outcome": "stopped"})
    assert r.status == 422 and "The monitoring centre refused:" in r.text and "only the holder (JS)" in r.text
    assert world.centre.case_json(case_id)["state"] == "open"


def test_chinese_pages(world: WebWorld) -> None:
    r = world.client.get(f"/alerts/{JS_SH_ALERT}?lang=zh", token=world.tokens["js-team"])
    assert "测量" in r.text and "应处置方" in r.text and 'lang="zh-CN"' in r.text
    assert "未授权发射, 跨省干扰" in r.text  # the verdicts through the page's own language
    assert "bw_lang=zh" in r.headers.get("set-cookie", "")
    r = world.client.get(f"/alerts/{JS_SH_ALERT}?lang=en", token=world.tokens["js-team"])
    assert "unlicensed, cross_border" in r.text and "未授权发射" not in r.text


def test_live_updates_reach_the_teams_of_the_alerts_provinces_only(world: WebWorld) -> None:
    got: dict[str, list[str]] = {"js-team": [], "zj-team-ok": []}
    zj_token, _ = world.token_store.new("zj-live", ("ZJ",))

    def listen(token: str, key: str, n_lines: int, timeout_s: float) -> None:
        ctx = ssl.create_default_context(cafile=str(world.cert_file))
        conn = http.client.HTTPSConnection("127.0.0.1", world.web.port, context=ctx, timeout=timeout_s)
        conn.request("GET", "/events", headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        try:
            while len(got[key]) < n_lines:
                line = resp.fp.readline().decode().strip()
                if line.startswith("data:"):
                    got[key].append(line)
        except TimeoutError:
            pass
        conn.close()

    threads = [threading.Thread(target=listen, args=(world.tokens["js-team"], "js-team", 1, 10.0)),
               threading.Thread(target=listen, args=(zj_token, "zj-team-ok", 1, 4.0))]
    for th in threads:
        th.start()
    time.sleep(1.0)  # both streams registered and the SUB connected
    doc = dict(world.centre.alert(JS_MINOR_ALERT), event="updated", severity="major")
    deadline = time.monotonic() + 8
    while not got["js-team"] and time.monotonic() < deadline:
        world.centre.publish(doc)
        time.sleep(0.3)
    for th in threads:
        th.join(12)
    assert got["js-team"], "the JS team heard nothing"
    assert json.loads(got["js-team"][0][5:])["id"] == JS_MINOR_ALERT
    assert got["zj-team-ok"] == []  # a ZJ team never hears of a JS-only alert


def test_a_case_change_reaches_the_event_stream_of_the_teams_involved(world: WebWorld) -> None:
    from coordination.client import ApiClient

    got: list[str] = []

    def listen() -> None:
        ctx = ssl.create_default_context(cafile=str(world.cert_file))
        conn = http.client.HTTPSConnection("127.0.0.1", world.web.port, context=ctx, timeout=8)
        conn.request("GET", "/events", headers={"Authorization": f"Bearer {world.tokens['sh-team']}"})
        resp = conn.getresponse()
        try:
            while not got:
                line = resp.fp.readline().decode().strip()
                if line.startswith("data:") and '"case"' in line:
                    got.append(line)
        except TimeoutError:
            pass
        conn.close()

    th = threading.Thread(target=listen)
    th.start()
    time.sleep(1.0)
    case_id = case_id_for(JS_SH_ALERT)  # SH is involved (affected)
    with ApiClient(world.centre.api_addr) as api:
        deadline = time.monotonic() + 6
        while not got and time.monotonic() < deadline:
            api.result("case_act", {"id": case_id, "action": "note", "text": "JS field team on the bridge",
                                    "by": "js-team", "as_provinces": ["JS"]})
            time.sleep(0.5)
    th.join(10)
    assert got, "the SH team heard nothing of the case"
    doc = json.loads(got[0][5:])
    assert (doc["id"], doc["case"], doc["event"]) == (JS_SH_ALERT, case_id, "note")


def test_hand_over_asked_by_one_team_and_accepted_by_the_other(world: WebWorld) -> None:
    case_id = case_id_for(JS_SH_ALERT)  # held by JS, SH affected
    js, sh = world.tokens["js-team"], world.tokens["sh-team"]
    page = world.client.get(f"/cases/{case_id}", token=sh)
    assert "Accept hand-over" not in page.text and 'action="/cases/' + case_id + '/close"' not in page.text
    r = world.client.post(f"/cases/{case_id}/handover", token=js, form={"to": "SH", "reason": "emitter in Jiading"})
    assert r.status == 303
    page = world.client.get(f"/cases/{case_id}", token=sh)
    assert "Accept hand-over" in page.text and "emitter in Jiading" in page.text
    r = world.client.post(f"/cases/{case_id}/handover_answer", token=sh, form={"answer": "refuse"})
    assert r.status == 422 and "Give a reason" in r.text  # a refusal needs a reason
    r = world.client.post(f"/cases/{case_id}/handover_answer", token=sh, form={"answer": "accept"})
    assert r.status == 303
    c = world.centre.case_json(case_id)
    assert (c["holder"], c["handover"]) == ("SH", None)
    page = world.client.get(f"/cases/{case_id}", token=sh)
    assert 'action="/cases/' + case_id + '/close"' in page.text  # SH holds it now: SH may close it


def test_alert_with_a_tdoa_fix_shows_its_pairs_hyperbolas_and_the_fix(world: WebWorld, tmp_path: Path) -> None:
    """The server fuses the round's fix file (an evidence reference) into the alert; the page draws it."""
    where = {"js-kunshan": (31.38, 120.98), "sh-jiading": (31.38, 121.25), "sh-qingpu": (31.15, 121.12)}
    emitter = (31.43, 121.06)

    def km(a: tuple[float, float], b: tuple[float, float]) -> float:
        return float(great_circle_km(a, np.array(b[0]), np.array(b[1])))

    fix_file = tmp_path / "20261203T070000.tdoa.json"
    fix_file.write_text(json.dumps({
        "round": "20261203T070000", "t_utc": "2026-12-03T07:00:00.000000Z", "reference_sensor": "js-kunshan",
        "position": {"lat": emitter[0], "lon": emitter[1], "error_km": 0.3, "semi_major_km": 0.12,
                     "semi_minor_km": 0.07, "orientation_deg": 50.0, "provinces": {"JS": 1.0}, "kind": "ellipse",
                     "n_sensors": 3, "method": "tdoa"},
        "sensors": [{"sensor_id": s, "lat": p[0], "lon": p[1], "height_m": 25.0} for s, p in where.items()],
        "pairs": [{"sensor_id": s, "range_diff_m": round((km(where[s], emitter) - km(where["js-kunshan"], emitter))
                                                         * 1e3, 2), "sigma_m": 35.0}
                  for s in ("sh-jiading", "sh-qingpu")],
        "dropped": []}))
    with_fix, without = "20261203T070000-js000010", "20261203T070100-js000011"
    doc = alert_doc(with_fix, source=("JS",), affected=(), severity="minor", lat=31.43, lon=121.07,
                    t=T0 + timedelta(minutes=30))
    doc["evidence"] = [str(fix_file)]
    world.centre.publish(doc, alert_doc(without, source=("JS",), affected=(), severity="minor",
                                        t=T0 + timedelta(minutes=31)))
    assert world.centre.alert(with_fix)["tdoa"]["reference_sensor"] == "js-kunshan"

    page = world.client.get(f"/alerts/{with_fix}?lang=en", token=world.tokens["js-team"]).text
    assert page.count('class="tdoa-hyperbola"') == 2
    assert page.count(f'class="tdoa-fix" data-alert="{with_fix}"') == 1
    assert "TDOA hyperbola (one per sensor pair)" in page and "sh-qingpu" in page  # the third focus is drawn
    zh = world.client.get(f"/alerts/{with_fix}?lang=zh", token=world.tokens["js-team"]).text
    assert "TDOA 定位点" in zh and "TDOA fix" not in zh
    page = world.client.get(f"/alerts/{without}?lang=en", token=world.tokens["js-team"]).text
    assert "tdoa" not in page and "TDOA" not in page and "<ellipse" in page
    index = world.client.get("/?lang=en", token=world.tokens["js-team"]).text
    assert index.count('class="tdoa-hyperbola"') == 2 and index.count('class="tdoa-fix"') == 1
