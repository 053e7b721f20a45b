"""One Chinese vocabulary: the demo's case lines speak the catalogue's own severity words and case states, and
every catalogue (CLI, report, console, web view) names a severity with the same word."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from demo_testkit import GOOD, ROUTES, result_for

import coordination.report
import gui
from borderwatch import i18n, i18n_build
from borderwatch.demo_scenario import load_demo_scenario
from borderwatch.demo_view import case_lines
from coordination.report.catalogue import read_po
from web import i18n as web_i18n

REPORT_PO = Path(coordination.report.__file__).parent / "locale" / "zh_CN" / "LC_MESSAGES" / "borderwatch.po"
CONSOLE_TS = Path(gui.__file__).parent / "data" / "borderwatch_zh_CN.ts"


@pytest.fixture
def chinese():
    i18n.set_language("zh_CN")
    yield
    i18n.set_language("en")


def _cases_result():
    cases = [{"id": "C-1", "alert_id": "a1", "severity": "major", "holder": "JS", "state": "open"},
             {"id": "C-2", "alert_id": "a3", "severity": "critical", "holder": "SH", "state": "closed",
              "outcome": "stopped", "handover": {"to": "JS"}}]
    return dataclasses.replace(result_for(load_demo_scenario(), GOOD, ROUTES), cases=cases)


def test_demo_case_lines_in_chinese_use_the_severity_columns_words_and_translate_states(chinese) -> None:
    head, major, critical = case_lines(_cases_result())[:3]
    words = {code: i18n._(code) for code in ("major", "critical")}
    assert words == {"major": "重要", "critical": "紧急"}
    assert head == "  案件：已立案 2 件（重要和紧急告警）"  # the same words as the severity column below
    assert major.split()[1] == words["major"] and critical.split()[1] == words["critical"]
    assert "江苏" in major and "未结案" in major and "open" not in major
    assert "上海 -> 江苏" in critical and "已停止" in critical and "stopped" not in critical


def test_demo_case_lines_in_english_keep_the_codes() -> None:
    head, major, critical = case_lines(_cases_result())[:3]
    assert head == "  cases: 2 opened (major and critical alerts)"
    assert "held by JS, open" in major and "held by SH -> JS, stopped" in critical


def _ts_words(path: Path, source: str) -> set[str]:
    root = ET.parse(path).getroot()
    return {str(m.findtext("translation")) for m in root.iter("message") if m.findtext("source") == source}


@pytest.mark.parametrize("code", ["critical", "major", "minor", "info"])
def test_every_chinese_catalogue_names_a_severity_with_the_same_word(code: str) -> None:
    """The CLI and demo, the report, the console and the web view: a team reading several sees one word."""
    words = {
        "cli": {read_po(i18n_build.po_path("zh_CN"))[code]},
        "report": {read_po(REPORT_PO)[code]},
        "console": _ts_words(CONSOLE_TS, code),
        "web": {web_i18n.translate("zh", code)},
    }
    assert all(len(w) == 1 for w in words.values()), words
    assert len(set().union(*words.values())) == 1, words
