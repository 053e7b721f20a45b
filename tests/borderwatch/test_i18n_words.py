"""One Chinese vocabulary: the demo's case lines speak the catalogue's own severity words and case states."""

from __future__ import annotations

import dataclasses

import pytest
from demo_testkit import GOOD, ROUTES, result_for

from borderwatch import i18n
from borderwatch.demo_scenario import load_demo_scenario
from borderwatch.demo_view import case_lines


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
