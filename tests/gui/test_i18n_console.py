"""The console in Chinese: shipped Qt catalogue complete and current; labels read back; CJK glyphs rendered."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from gui_testkit import temp_settings, write_archive
from PySide6.QtCore import QPoint, QRect, Qt, QTranslator
from PySide6.QtGui import QColor, QFont, QFontDatabase, QImage, QPainter
from PySide6.QtWidgets import QApplication, QLabel

from gui.alerts import COLUMNS, alert_detail_html
from gui.app import MainWindow
from gui.archive import ArchiveReader
from gui.cases import CASE_COLUMNS
from gui.i18n import install_translator

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "gui" / "data"
TS = DATA / "borderwatch_zh_CN.ts"
QM = DATA / "borderwatch_zh_CN.qm"


def catalogue_tool():
    spec = importlib.util.spec_from_file_location("console_catalogue", ROOT / "tools" / "console_catalogue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    if not (Path(sys.executable).parent / "pyside6-lupdate").exists() and shutil.which("pyside6-lupdate") is None:
        pytest.skip("pyside6-lupdate not installed")
    return module


def ts_messages(path: Path) -> dict[tuple[str, str], ET.Element]:
    out = {}
    for ctx in ET.parse(path).getroot().iter("context"):
        name = ctx.findtext("name")
        for msg in ctx.iter("message"):
            out[(name, msg.findtext("source"))] = msg.find("translation")
    return out


def test_every_console_string_has_a_finished_zh_cn_translation() -> None:
    msgs = ts_messages(TS)
    assert len(msgs) > 170
    bad = [k for k, t in msgs.items() if not (t.text or "").strip() or t.get("type") is not None]
    assert bad == [], f"untranslated console strings (python tools/console_catalogue.py update, translate): {bad}"


def test_ts_holds_exactly_the_strings_of_the_sources_and_qm_is_compiled_from_it(tmp_path: Path) -> None:
    tool = catalogue_tool()
    fresh_ts = tmp_path / TS.name
    shutil.copy(TS, fresh_ts)
    tool.update("zh_CN", ts=fresh_ts)
    assert fresh_ts.read_bytes() == TS.read_bytes(), "gui strings changed: run python tools/console_catalogue.py all"
    fresh_qm = tool.compile_qm("zh_CN", ts=TS, qm=tmp_path / QM.name)
    assert fresh_qm.read_bytes() == QM.read_bytes(), "stale .qm: run python tools/console_catalogue.py compile"


@pytest.fixture
def chinese(qapp):
    """The shipped zh_CN catalogue installed as the console does; every translator removed afterwards."""
    assert install_translator(qapp, "zh_CN") is not None
    yield qapp
    for t in qapp.findChildren(QTranslator):
        qapp.removeTranslator(t)


ALERTS = [
    {"id": "X1", "state": "open", "severity": "critical", "verdicts": ["cross_border"], "band": "Maritime VHF",
     "service": "maritime", "provinces_source": ["ZJ"], "provinces_affected": ["SH"], "f_center_hz": 156.8e6,
     "bandwidth_hz": 16000.0, "first_seen": "2026-11-25T12:00:30.000000Z", "last_seen": "2026-11-25T12:00:35.000000Z"},
    {"id": "X2", "state": "acknowledged", "severity": "major", "verdicts": ["licence_violation"],
     "band": "FM broadcast", "service": "broadcast", "provinces_source": ["AH"], "provinces_affected": ["JS"],
     "f_center_hz": 97.5e6, "bandwidth_hz": 180000.0, "first_seen": "2026-11-25T12:00:40.000000Z",
     "last_seen": "2026-11-25T12:00:45.000000Z"},
    {"id": "X3", "state": "open", "severity": "minor", "verdicts": ["unlicensed"],
     "band": "Aeronautical VHF (airband)", "service": "aeronautical", "provinces_source": ["JS"],
     "provinces_affected": ["JS"], "f_center_hz": 121.5e6, "bandwidth_hz": 6000.0,
     "first_seen": "2026-11-25T12:00:50.000000Z", "last_seen": "2026-11-25T12:00:55.000000Z"},
]


@pytest.fixture
def window(chinese, tmp_path):
    win = MainWindow(archive=ArchiveReader(write_archive(tmp_path / "data")),
                     settings=temp_settings(tmp_path / "s.ini"))
    win.resize(1500, 950)
    win.show()
    win.alerts.upsert(ALERTS)
    for _ in range(10):
        chinese.processEvents()
    yield win
    win.close()
    win.deleteLater()


def cell(win: MainWindow, alert_id: str, col: str) -> str:
    proxy = win.alerts.proxy
    row = win.alerts.visible_ids().index(alert_id)
    return proxy.data(proxy.index(row, COLUMNS.index(col)))


def test_console_under_zh_cn_shows_chinese_labels(window: MainWindow) -> None:
    win = window
    assert win.windowTitle().startswith("borderwatch 监测控制台 - 存档 ")
    titles = [d.windowTitle() for d in win.docks.values()]
    assert titles == ["传感器", "地图", "频谱", "瀑布图", "告警", "案件", "占用度", "台站", "协调请求"]
    model = win.alerts.model
    assert [model.headerData(i, Qt.Orientation.Horizontal) for i in range(4)] == [
        "严重程度", "判定", "频段", "频率 (MHz)"]
    # provinces, verdicts, services and bands as the regulators name them
    assert (cell(win, "X1", "verdicts"), cell(win, "X1", "provinces"), cell(win, "X1", "band")) == (
        "跨省干扰", "浙江 -> 上海", "水上甚高频")
    assert (cell(win, "X2", "verdicts"), cell(win, "X2", "band"), cell(win, "X2", "state")) == (
        "违规发射", "调频广播", "已确认")
    assert (cell(win, "X3", "verdicts"), cell(win, "X3", "severity"), cell(win, "X3", "state")) == (
        "未授权发射", "次要", "未处理")
    assert {c: win.map.province_labels[c].textItem.toPlainText() for c in ("SH", "JS", "ZJ", "AH")} == {
        "SH": "上海", "JS": "江苏", "ZJ": "浙江", "AH": "安徽"}
    services = [win.station_browser.service_box.itemText(i) for i in range(win.station_browser.service_box.count())]
    assert services[:5] == ["任意", "广播", "陆地移动", "航空", "水上"]
    bands = [win.map.band_box.itemText(i) for i in range(win.map.band_box.count())]
    assert bands[0] == "全部频段" and "水上甚高频" in bands and "航空甚高频（航空波段）" in bands
    win.map.select_band("Maritime VHF")  # selection still by the rules' band name
    assert win.map.band_box.currentText() == "水上甚高频"
    detail = QLabel()
    detail.setText(alert_detail_html(ALERTS[0]))
    text = detail.text()
    assert "告警 X1 &mdash; 紧急 (未处理)" in text and "频段: 水上甚高频 (水上)" in text
    assert "来源: 浙江; 受影响: 上海" in text


CASES = [
    {"id": "C-1", "alert_id": "X1", "severity": "critical", "holder": "ZJ", "state": "open", "band": "Maritime VHF",
     "f_center_hz": 156.8e6, "updated_at": "2026-11-25T12:01:00.000000Z", "resolution": "ZJ",
     "handover": {"to": "SH", "reason": "it sails to Shanghai"},
     "tasks": [{"task_id": "T1", "kind": "field_search", "for_province": "ZJ", "done": False, "description": "port"}]},
    {"id": "C-2", "alert_id": "X2", "severity": "major", "holder": "AH", "state": "closed", "outcome": "stopped",
     "band": "FM broadcast", "f_center_hz": 97.5e6, "updated_at": "2026-11-25T12:02:00.000000Z"},
]


def test_cases_under_zh_cn_show_states_outcomes_provinces_and_the_pane_in_chinese(window: MainWindow) -> None:
    cases = window.cases_view
    cases.upsert(CASES)
    model = cases.model
    state = CASE_COLUMNS.index("state")
    assert [model.data(model.index(r, state)) for r in range(2)] == ["未结案", "已停止"]  # not the alerts' 未处理
    assert [cases.outcome_box.itemText(i) for i in range(cases.outcome_box.count())] == [
        "已停止", "已变更执照", "已处罚", "已移送", "未找到"]
    cases.select_case("C-1")
    pane = cases.detail.toPlainText()
    assert "C-1 · 未结案" in pane and "承办省份 浙江" in pane and "请求移交给 上海: it sails to Shanghai" in pane
    assert "任务" in pane and "(浙江) 未完成: port" in pane
    for english in ("Held by", "Hand-over", "Tasks", " open"):
        assert english not in pane, english


def as_array(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    h, w = img.height(), img.width()
    raw = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h)
    return raw.reshape(h, img.bytesPerLine() // 4, 4)[:, :w, :3].astype(int)


def render_text(text: str, font: QFont, size: tuple[int, int] = (48, 48)) -> np.ndarray:
    img = QImage(*size, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setFont(font)
    p.setPen(QColor("black"))
    p.drawText(QRect(0, 0, *size), int(Qt.AlignmentFlag.AlignCenter), text)
    p.end()
    return as_array(img)


def test_screenshot_renders_cjk_glyphs_not_boxes(window: MainWindow) -> None:
    if not QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese):
        pytest.skip("no CJK font installed (make fonts: Debian fonts-noto-cjk)")
    shot = window.grab().toImage()
    labels = {lbl.text(): lbl for lbl in window.findChildren(QLabel) if lbl.isVisible()}
    checked = 0
    for text in ("值班员：", "显示：", "监测方案：", "单位："):
        lbl = labels[text]
        crop = as_array(shot.copy(QRect(lbl.mapTo(window, QPoint(0, 0)), lbl.size())))
        # the same text drawn with the label's font, colours and alignment: the screenshot shows exactly it
        ref = QImage(lbl.size(), QImage.Format.Format_RGB32)
        ref.fill(lbl.palette().color(lbl.backgroundRole()))
        p = QPainter(ref)
        p.setFont(lbl.font())
        p.setPen(lbl.palette().color(lbl.foregroundRole()))
        p.drawText(lbl.contentsRect(), int(lbl.alignment()), text)
        p.end()
        assert np.abs(crop - as_array(ref)).max() <= 8, text
        assert (crop.sum(axis=2) < 384).mean() > 0.03  # ink on the label, not a blank area
        checked += 1
    assert checked == 4
    # ... and those are glyphs: a missing glyph is one identical box for every character
    font = labels["值班员："].font()
    tofu = render_text("\ue000", font)  # private-use code point: no font has it
    glyphs = [render_text(ch, font) for ch in "值班员显示监测方案"]
    assert len({g.tobytes() for g in glyphs}) == len(glyphs)
    assert all(np.abs(g - tofu).max() > 128 for g in glyphs)
    assert all((g.sum(axis=2) < 600).sum() > 15 for g in glyphs)  # each has ink


def test_console_command_takes_the_top_level_lang(qapp, tmp_path, capsys) -> None:
    from borderwatch.cli import main

    data = write_archive(tmp_path / "data")
    png = tmp_path / "zh.png"
    try:
        assert main(["--lang", "zh_CN", "console", "--archive", str(data), "--screenshot", str(png), "--wait", "5",
                     "--size", "1200x800"]) == 0
        assert QApplication.translate("MainWindow", "Alerts") == "告警"
    finally:
        for t in qapp.findChildren(QTranslator):
            qapp.removeTranslator(t)
    assert capsys.readouterr().err.strip() == f"borderwatch console: 截图已保存到 {png}"
    img = QImage(str(png))
    assert (img.width(), img.height()) == (1200, 800)
    assert QApplication.translate("MainWindow", "Alerts") == "Alerts"
