"""Localisation plumbing: every string goes through Qt's translation, so a catalogue changes the UI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gui_testkit import temp_settings, write_archive
from PySide6.QtCore import QCoreApplication, Qt, QTranslator

from gui.app import MainWindow
from gui.archive import ArchiveReader
from gui.i18n import install_translator, resolve_language

GUI = Path(__file__).resolve().parents[2] / "gui"
BIN = Path(sys.executable).parent

TS = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context><name>MainWindow</name>
  <message><source>Alerts</source><translation>告警</translation></message>
  <message><source>Spectrum</source><translation>频谱</translation></message>
</context>
<context><name>labels</name>
  <message><source>Zhejiang</source><translation>浙江</translation></message>
  <message><source>cross-border interference</source><translation>跨省干扰</translation></message>
</context>
<context><name>AlertTableModel</name>
  <message><source>Severity</source><translation>严重程度</translation></message>
</context>
<context><name>AlertDetail</name>
  <message><source>Candidate stations</source><translation>候选台站</translation></message>
</context>
</TS>
"""


def tool(name: str) -> str:
    exe = BIN / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed")
    return found


def test_lupdate_extracts_the_console_strings_with_their_contexts(tmp_path):
    ts = tmp_path / "all.ts"
    subprocess.run([tool("pyside6-lupdate"), *map(str, sorted(GUI.glob("*.py"))), "-ts", str(ts)], check=True,
                   capture_output=True, timeout=120)
    text = ts.read_text(encoding="utf-8")
    assert text.count("<source>") > 140
    for context in ("MainWindow", "SpectrumWidget", "WaterfallWidget", "AlertsWidget", "AlertDetail", "labels",
                    "MapWidget", "StationsWidget", "OccupancyWidget", "SensorsWidget", "ArchiveBar"):
        assert f"<name>{context}</name>" in text, context
    for source in ("Acknowledge", "Max hold", "Zhejiang", "Measured vs predicted per sensor", "Auto levels"):
        assert f"<source>{source}</source>" in text, source


def test_a_compiled_catalogue_translates_docks_labels_tables_and_detail(qapp, tmp_path):
    ts = tmp_path / "t_zh_CN.ts"
    ts.write_text(TS, encoding="utf-8")
    qm = tmp_path / "t_zh_CN.qm"
    subprocess.run([tool("pyside6-lrelease"), str(ts), "-qm", str(qm)], check=True, capture_output=True, timeout=60)
    translator = QTranslator()
    assert translator.load(str(qm))
    QCoreApplication.installTranslator(translator)
    try:
        data = write_archive(tmp_path / "data")
        win = MainWindow(archive=ArchiveReader(data), settings=temp_settings(tmp_path / "s.ini"))
        assert win.docks["alerts"].windowTitle() == "告警"
        assert win.docks["spectrum"].windowTitle() == "频谱"
        assert win.map.province_labels["ZJ"].textItem.toPlainText() == "浙江"
        assert win.alerts.model.headerData(0, Qt.Orientation.Horizontal) == "严重程度"
        win.alerts.select_alert("A1")
        assert "候选台站" in win.alerts.detail.toPlainText()
        assert win.docks["waterfall"].windowTitle() == "Waterfall"  # untranslated strings stay English
        win.close()
        win.deleteLater()
    finally:
        QCoreApplication.removeTranslator(translator)


def test_language_choice(qapp):
    assert resolve_language("en") == "en" and resolve_language("zh_CN") == "zh_CN"
    assert resolve_language(None) in ("en", "zh_CN")
    with pytest.raises(ValueError, match="not supported"):
        resolve_language("fr")
    assert install_translator(qapp, "en") is None
