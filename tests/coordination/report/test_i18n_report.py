"""A report in Chinese from the command line: headings, tables and every plot text in Chinese."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from matplotlib.text import Text
from report_testkit import PERIOD, build_world

from borderwatch import i18n
from borderwatch.cli import main
from coordination.report import plots
from coordination.report.plots import cjk_font

# Words that stay as they are in a Chinese report: units, standard names, abbreviations, file names.
KEPT = {"MHz", "kHz", "dBm", "UTC", "FCO", "FBO", "CSV", "ITU", "Wilson", "PMR", "min", "GeoJSON",
        "dB", "uV", "km", "SM", "IQ"}
WORD = re.compile(r"[A-Za-z]{2,}")


class VisibleText(HTMLParser):
    """The text a reader sees (and alt/title texts), without scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("script", "style")
        self.texts += [v for k, v in attrs if k in ("alt", "title") and v]

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.texts.append(data.strip())


def english_words(texts: list[str]) -> set[str]:
    """Latin words outside the kept set and the data's own codes (sensor ids like js-01)."""
    out = set()
    for t in texts:
        t = re.sub(r"\b[a-z]{2}-\d{2}\b|\b\w+\.(db|csv|toml)\b|--[a-z-]+", "", t)  # sensor ids, files, options
        out |= {w for w in WORD.findall(t) if w not in KEPT}
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("i18n_report") / "w")


@pytest.fixture
def plot_texts(monkeypatch):
    """Every text drawn in the report's figures (titles, axis labels, legends, tick labels)."""
    seen: list[str] = []
    original = plots._style_text

    def spy(fig, font):
        seen.extend(t.get_text() for t in fig.findobj(Text) if t.get_text().strip())
        return original(fig, font)

    monkeypatch.setattr(plots, "_style_text", spy)
    return seen


@pytest.fixture(autouse=True)
def english_afterwards(monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    yield
    i18n.set_language("en")


def test_top_level_lang_gives_a_report_entirely_in_chinese(world, tmp_path, plot_texts, capsys):
    out = tmp_path / "zh.html"
    assert main(["--lang", "zh_CN", "report", "--archive", str(world.data_dir), "--period", PERIOD,
                 "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"报告：{out}（")
    html = out.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    assert re.findall(r"<h1>([^<]*)", html) == ["电磁环境报告"]
    assert re.findall(r"<h2[^>]*>([^<]*)", html) == ["1. 各频段、各边界区域的频谱占用度", "2. 许可台站与实测对比",
                                                     "3. 本期告警", "4. 监测站可用性", "5. 协调请求"]
    parser = VisibleText()
    parser.feed(html)
    assert english_words(parser.texts) == set()
    if cjk_font() is None:
        pytest.skip("no CJK font: Chinese plots keep English labels by design (make fonts)")
    assert len(plot_texts) > 20
    assert english_words(plot_texts) == set(), plot_texts
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in plot_texts)
    assert "频率（MHz）" in plot_texts


def test_english_report_for_comparison_has_english_plot_labels(world, tmp_path, plot_texts):
    assert main(["--lang", "en", "report", "--archive", str(world.data_dir), "--period", PERIOD,
                 "-o", str(tmp_path / "en.html")]) == 0
    assert "Frequency (MHz)" in plot_texts
    assert not any(re.search(r"[\u4e00-\u9fff]", t) for t in plot_texts)


def test_chinese_locale_gives_a_chinese_report_without_lang(world, tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    out = tmp_path / "locale.html"
    assert main(["report", "--archive", str(world.data_dir), "--period", PERIOD, "-o", str(out)]) == 0
    assert "电磁环境报告" in out.read_text(encoding="utf-8")
    # the report's own --lang still wins
    assert main(["report", "--archive", str(world.data_dir), "--period", PERIOD, "--lang", "en",
                 "-o", str(tmp_path / "en.html")]) == 0
    assert "Electromagnetic environment report" in (tmp_path / "en.html").read_text(encoding="utf-8")


def test_machine_readable_exports_are_the_same_in_both_languages(world, tmp_path):
    for lang in ("en", "zh_CN"):
        assert main(["--lang", lang, "report", "--archive", str(world.data_dir), "--period", PERIOD,
                     "--occupancy-csv", str(tmp_path / f"{lang}.csv"),
                     "--alerts-geojson", str(tmp_path / f"{lang}.geojson")]) == 0
    assert (tmp_path / "en.csv").read_bytes() == (tmp_path / "zh_CN.csv").read_bytes()
    assert Path(tmp_path / "en.geojson").read_bytes() == Path(tmp_path / "zh_CN.geojson").read_bytes()
