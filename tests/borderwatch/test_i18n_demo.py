"""The demo's live view, log view and summary in Chinese, with columns aligned in terminal cells."""

from __future__ import annotations

import io

import pytest
from demo_testkit import GOOD, ROUTES, FakeNetwork, result_for

from borderwatch import i18n
from borderwatch.demo_scenario import load_demo_scenario
from borderwatch.demo_view import LiveView, LogView, alert_line, format_summary, pad, width


@pytest.fixture(scope="module")
def demo():
    return load_demo_scenario()


@pytest.fixture
def chinese():
    i18n.set_language("zh_CN")
    yield
    i18n.set_language("en")


def test_terminal_width_counts_chinese_as_two_cells():
    assert width("江苏") == 4 and width("JS") == 2 and width("水上甚高频 156.8") == 16
    assert pad("浙江", 6) == "浙江  " and pad("ZJ", 6) == "ZJ    " and pad("跨省干扰", 4) == "跨省干扰"


def test_live_view_in_chinese(demo, chinese):
    net = FakeNetwork(demo)
    crit = dict(GOOD["a3"], severity="critical", band="Maritime VHF")
    net.alerts.events.extend([GOOD["a1"], crit])
    view = LiveView(io.StringIO())
    view.net = net
    view.event(GOOD["a1"], {"ZJ"})
    view.event(dict(GOOD["a1"], event="updated", evidence=["e1"]), {"ZJ"})
    screen = view.render(net)
    assert "已存储 0   已拒收 0   （Ctrl-C 结束）" in screen
    assert "传感器（0/0 在线）" in screen and "未关闭告警（2）" in screen and "最新事件" in screen
    body = screen.split("未关闭告警（2）")[1].split("最新事件")[0]
    assert "紧急" in body and "未授权发射+跨省干扰" in body and "水上甚高频" in body and "上海 -> 江苏" in body
    assert body.index("156.7999 MHz") < body.index("100.1001 MHz")  # most severe first, as in English
    events = screen.split("最新事件")[1]
    assert "新建" in events and "证据" in events and "已附加 1 段 IQ 采集（SigMF）" in events
    for english in ("OPEN ALERTS", "LATEST EVENTS", "SENSORS", "UNLICENSED", "CROSS-BORDER", "CRITICAL", "opened"):
        assert english not in screen, english


def test_alert_columns_line_up_in_terminal_cells(chinese):
    lines = [alert_line(GOOD[k]) for k in ("a1", "a2", "a3")]
    # the frequency column starts at the same terminal column in every row, however many Chinese characters
    starts = [width(line[:line.index(" MHz") - 9]) for line in lines]
    assert len(set(starts)) == 1


def test_log_view_and_summary_in_chinese(demo, chinese):
    out = io.StringIO()
    view = LogView(out)
    view.net = FakeNetwork(demo)
    view.event(GOOD["a2"], {"AH", "JS"})
    view.tick(view.net)
    (line,) = [x for x in out.getvalue().splitlines() if "] 告警 " in x]
    assert "告警 新建" in line and "安徽 -> 江苏" in line and "跨省干扰+违规发射" in line
    assert "(发往 alert.AH, alert.JS)" in line  # topics stay codes: subscribers filter on them
    text = format_summary(result_for(demo, GOOD, ROUTES))
    assert "borderwatch 演示总结：test（90 秒，16 个传感器" in text
    assert "发射机" in text and "预期" in text and "结论" in text and "定位误差" in text
    assert "传感器" in text and "定位方法" in text and "时差+场强" in text  # how each position was found
    assert "fused" not in text and "position by" not in text
    assert "传输：传感器缓存 20 条消息，服务器存储 20 条" in text
    assert "结果：全部 6 个事件都向预期省份发出了预期告警；3 个合法台站未引发告警；没有数据丢失。" in text
    docs = {k: v for k, v in GOOD.items() if k != "a2"}
    assert "失败 AH-PMR-0042" in format_summary(result_for(demo, docs, ROUTES))
