"""Case life cycle: who holds a case, hand-over asked/accepted/refused, tasks, notes, closure, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from case_testkit import T0, alert_doc

from coordination import cases
from coordination.casebook import CaseDesk, InMemoryCaseRepository
from coordination.cases import Actor, CaseError

JS = Actor("team-js", ("JS",))
SH = Actor("team-sh", ("SH",))
ZJ = Actor("team-zj", ("ZJ",))
OPERATOR = Actor("operator")


def t(s: float):
    return T0 + timedelta(seconds=s)


def test_unlicensed_alert_is_held_by_the_source_province() -> None:
    assert cases.holder_for(alert_doc(source=("JS",), affected=("SH",))) == "JS"
    assert cases.holder_for(alert_doc(source=("ZJ",), affected=("JS", "SH"))) == "ZJ"


def test_cross_border_between_licensed_stations_goes_to_the_station_that_yields() -> None:
    text = ("later yields to earlier: ZJ station ZJ-0042 (licensed 2021-03-01) yields to JS station JS-0007 "
            "(2015-06-01)")
    doc = alert_doc(source=("JS",), affected=("ZJ",), verdicts=("cross_border",), resolution=text)
    assert cases.holder_for(doc) == "ZJ"
    other = ("later yields to earlier: SH station SH-1 (licensed 2019-01-01) is the later assignment; JS station "
             "keeps priority")
    assert cases.holder_for(alert_doc(source=("JS",), affected=("SH",), verdicts=("cross_border",),
                                      resolution=other)) == "SH"


def test_licence_violation_goes_to_the_licensees_province() -> None:
    doc = alert_doc(source=("JS",), affected=("SH",), verdicts=("licence_violation",))
    doc["matched_station"] = "AH-0009"
    doc["candidate_stations"] = [{"station_id": "AH-0009", "province": "AH"}]
    assert cases.holder_for(doc) == "AH"


def test_auto_open_from_major_up_only() -> None:
    assert cases.should_open_automatically(alert_doc(severity="critical"))
    assert cases.should_open_automatically(alert_doc(severity="major"))
    assert not cases.should_open_automatically(alert_doc(severity="minor"))
    assert not cases.should_open_automatically(alert_doc(severity="major", state="resolved"))


def test_full_life_cycle_with_refused_then_accepted_handover_and_closure() -> None:
    desk = CaseDesk(InMemoryCaseRepository())
    c = desk.open(alert_doc(source=("JS",), affected=("SH",)), t(0), auto=True)
    assert (c.holder, c.state, c.auto, c.provinces) == ("JS", "open", True, ("JS", "SH"))
    assert desk.open(alert_doc(source=("JS",), affected=("SH",)), t(1)).n_events == 1  # idempotent

    c = desk.act(c.id, lambda c: cases.assign(c, "JS field team 3", t(10), JS))
    c = desk.act(c.id, lambda c: cases.ask_handover(c, "SH", "emitter is on the SH side of the river", t(20), JS))
    assert c.handover is not None and c.handover.to == "SH"
    with pytest.raises(CaseError, match="pending"):
        cases.ask_handover(c, "ZJ", "second ask", t(21), JS)
    with pytest.raises(CaseError, match="only SH"):
        cases.answer_handover(c, True, t(22), JS)  # the asker cannot accept its own request
    with pytest.raises(CaseError, match="reason"):
        cases.answer_handover(c, False, t(22), SH, reason="   ")
    c = desk.act(c.id, lambda c: cases.answer_handover(c, False, t(30), SH, reason="position ellipse is in JS"))
    assert (c.holder, c.handover) == ("JS", None)

    c = desk.act(c.id, lambda c: cases.ask_handover(c, "SH", "new fix from 4 sensors: 2 km inside SH", t(40), JS))
    c = desk.act(c.id, lambda c: cases.answer_handover(c, True, t(50), SH))
    assert (c.holder, c.assignee) == ("SH", "")
    with pytest.raises(CaseError, match="holder"):
        cases.add_task(c, "field_search", "search", t(55), JS)  # JS no longer holds it

    c = desk.act(c.id, lambda c: cases.add_task(c, "field_search", "search Jiading industrial park", t(60), SH))
    c = desk.act(c.id, lambda c: cases.add_task(c, "onsite_measurement", "measure at the border marker", t(61), SH,
                                                for_province="JS"))
    c = desk.act(c.id, lambda c: cases.add_note(c, "JS can help from the Kunshan side", t(62), JS))
    c = desk.act(c.id, lambda c: cases.on_site(c, 31.41, 121.07, 12.0, t(70), SH))
    c = desk.act(c.id, lambda c: cases.complete_task(c, "T2", "41.0 dBuV/m at marker 17", t(80), JS))
    with pytest.raises(CaseError, match="may not mark it done"):
        cases.complete_task(c, "T1", "found", t(81), ZJ)
    c = desk.act(c.id, lambda c: cases.complete_task(c, "T1", "found a repeater on a roof", t(90), SH))
    assert [(x.task_id, x.done) for x in c.tasks] == [("T1", True), ("T2", True)]
    with pytest.raises(CaseError, match="outcome"):
        cases.close(c, "solved", "", t(95), SH)
    c = desk.act(c.id, lambda c: cases.close(c, "stopped", "repeater switched off", t(100), SH))
    assert (c.state, c.outcome, c.closed_by, c.n_events) == ("closed", "stopped", "team-sh", 13)
    with pytest.raises(CaseError, match="closed"):
        cases.add_note(c, "late note", t(110), SH)
    assert desk.get(c.id).to_json() == c.to_json()  # the stored history folds to the same case


def test_uninvolved_province_cannot_open_note_or_close() -> None:
    desk = CaseDesk(InMemoryCaseRepository())
    doc = alert_doc(source=("JS",), affected=("SH",))
    with pytest.raises(CaseError, match="involves"):
        desk.open(doc, t(0), ZJ)
    c = desk.open(doc, t(0), OPERATOR)
    with pytest.raises(CaseError, match="not involved"):
        cases.add_note(c, "hello", t(1), ZJ)
    with pytest.raises(CaseError, match="holder"):
        cases.close(c, "stopped", "", t(2), SH)
    assert cases.close(c, "not_found", "", t(2), OPERATOR).kind == "closed"


def test_closing_with_a_pending_handover_is_refused() -> None:
    desk = CaseDesk(InMemoryCaseRepository())
    c = desk.open(alert_doc(), t(0))
    c = desk.act(c.id, lambda c: cases.ask_handover(c, "SH", "theirs", t(1), JS))
    with pytest.raises(CaseError, match="answered before closing"):
        cases.close(c, "stopped", "", t(2), JS)


@pytest.mark.parametrize("kind,data,match", [
    ("note", {"text": ""}, "non-empty"),
    ("note", {"text": "x" * 4001}, "longer than 4000"),
    ("on_site", {"lat": 95.0, "lon": 121.0, "accuracy_m": 5.0}, "not on Earth"),
    ("on_site", {"lat": float("nan"), "lon": 121.0, "accuracy_m": 5.0}, "finite"),
    ("attachment", {"name": "../etc/passwd", "sha256": "0" * 64, "size_bytes": 3, "media_type": "image/jpeg"},
     "file name"),
    ("attachment", {"name": "a.jpg", "sha256": "XYZ", "size_bytes": 3, "media_type": "image/jpeg"}, "hex"),
    ("closed", {"outcome": "fixed"}, "not one of"),
    ("handover_asked", {"to": "js", "reason": "x"}, "province code"),
])
def test_event_data_is_validated_with_the_key_named(kind: str, data: dict, match: str) -> None:
    with pytest.raises(CaseError, match=match):
        cases.validate_data(kind, data, kind)


def test_event_json_round_trip_and_time_order() -> None:
    desk = CaseDesk(InMemoryCaseRepository())
    c = desk.open(alert_doc(), t(0))
    c = desk.act(c.id, lambda c: cases.add_note(c, "水印 photo taken", t(5), JS))
    back = [cases.CaseEvent.from_json(e.to_json()) for e in c.events]
    assert back == list(c.events)
    with pytest.raises(CaseError, match="before the previous"):
        cases.add_note(c, "from the past", t(1), JS)


def test_concurrent_writers_one_wins_the_other_is_rebuilt_on_the_new_head() -> None:
    repo = InMemoryCaseRepository()
    a, b = CaseDesk(repo), CaseDesk(repo)
    c = a.open(alert_doc(), t(0))
    stale = b.get(c.id)
    a.act(c.id, lambda c: cases.close(c, "stopped", "", t(10), JS))
    # b's command was built against a stale case; the desk reloads and the rebuilt command is refused.
    with pytest.raises(CaseError, match="closed"):
        b.act(stale.id, lambda c: cases.add_note(c, "late", t(11), JS))
    assert a.get(c.id).n_events == 2


def test_a_case_whose_alert_is_linked_to_another_is_merged_into_that_alerts_case() -> None:
    from coordination.casebook import merge_linked

    desk = CaseDesk(InMemoryCaseRepository())
    js_alert = alert_doc("A-js-own", source=("JS",), affected=("SH",))
    zj_alert = alert_doc("A-zj-standing", source=("ZJ",), affected=("JS",))
    mine = desk.open(js_alert, t(0), auto=True)
    desk.act(mine.id, lambda c: cases.add_note(c, "team 3 on its way", t(5), JS))
    links = {"A-js-own": "A-zj-standing"}
    merged = merge_linked(desk, links.get, {"A-zj-standing": zj_alert}.get, t(10))
    assert [(m.id, m.state, m.merged_into) for m in merged] == [(mine.id, "merged", cases.case_id_for("A-zj-standing"))]
    target = desk.get(cases.case_id_for("A-zj-standing"))
    assert (target.state, target.holder) == ("open", "ZJ")
    assert "merged into this one" in target.of_kind("note")[0].data["text"]
    with pytest.raises(CaseError, match="merged"):
        cases.add_note(desk.get(mine.id), "late", t(20), JS)
    assert merge_linked(desk, links.get, {"A-zj-standing": zj_alert}.get, t(30)) == []  # once
    with pytest.raises(CaseError, match="only the server"):
        cases.merge(target, mine, t(40), JS)


def test_an_untouched_case_follows_its_alert_to_the_province_that_must_act_then_stays() -> None:
    from coordination.casebook import auto_open

    desk = CaseDesk(InMemoryCaseRepository())
    first = alert_doc("A-moving", source=("JS",), affected=("JS",))  # one sensor's first estimate
    (c,) = auto_open(desk, [first], t(0))
    assert (c.holder, c.provinces) == ("JS", ("JS",))
    refined = alert_doc("A-moving", source=("SH",), affected=("JS",))  # more sensors: the emitter is in SH
    (c,) = auto_open(desk, [refined], t(10))
    assert (c.holder, c.provinces, c.events[-1].kind) == ("SH", ("JS", "SH"), "reassigned")
    assert auto_open(desk, [refined], t(11)) == []  # nothing changed: no event
    desk.act(c.id, lambda c: cases.add_note(c, "SH team takes it", t(20), SH))
    assert auto_open(desk, [first], t(30)) == []  # a team acted: only a hand-over moves it now
    assert desk.get(c.id).holder == "SH"
