"""The HTML report: numbers read back from it equal the archive's, plots are real images, zh_CN is Chinese."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image
from report_testkit import CH_A_HZ, CH_B_HZ, PERIOD, build_world

from coordination.report import Period, ReportOptions, UnknownLanguageError, build_report, render_html
from coordination.report.plots import cjk_font
from dsp import wilson_interval


class Elements(HTMLParser):
    """Every element's tag, attributes and the text directly inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict] = []
        self.stack: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, **{k: v or "" for k, v in attrs}, "_text": ""}
        self.items.append(el)
        if tag not in ("img", "meta", "br"):
            self.stack.append(el)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        for el in self.stack:
            el["_text"] += data

    def find(self, **attrs) -> list[dict]:
        return [e for e in self.items if all(e.get(k.replace("_", "-")) == v for k, v in attrs.items())]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("report-html"))


@pytest.fixture(scope="module")
def report(world):
    return build_report(world.data_dir, ReportOptions(Period.parse(PERIOD), stations=world.stations_csv))


@pytest.fixture(scope="module")
def html_en(report):
    return render_html(report, "en")


@pytest.fixture(scope="module")
def html_zh(report):
    return render_html(report, "zh_CN")


def parse(html: str) -> Elements:
    p = Elements()
    p.feed(html)
    return p


def fco_rows(html: str, sensor_id: str) -> dict[float, dict]:
    m = re.search(rf'<section class="site-band" data-sensor="{sensor_id}".*?</section>', html, re.S)
    assert m, sensor_id
    doc = parse(m.group(0))
    return {float(e["data-channel-hz"]): e for e in doc.items if e.get("class") == "fco"}


def test_fco_table_carries_the_archive_numbers(html_en):
    js = fco_rows(html_en, "js-01")
    a = js[CH_A_HZ]
    assert float(a["data-fco"]) == pytest.approx(0.25)
    assert int(a["data-revisits"]) == 180 and int(a["data-occupied"]) == 45
    lo, hi = wilson_interval(45, 180)
    assert float(a["data-ci-low"]) == pytest.approx(float(lo), abs=1e-6)
    assert float(a["data-ci-high"]) == pytest.approx(float(hi), abs=1e-6)
    assert "25.0 %" in a["_text"] and "446.0125" in a["_text"]
    assert float(js[CH_B_HZ]["data-fco"]) == 1.0
    assert len(js) == 2  # only occupied channels are listed
    zj = fco_rows(html_en, "zj-01")
    assert float(zj[CH_B_HZ]["data-fco"]) == pytest.approx(0.25) and int(zj[CH_B_HZ]["data-revisits"]) == 120


def test_band_summary_alerts_and_availability_numbers(html_en, report):
    doc = parse(html_en)
    (js_sum,) = [e for e in doc.items if e.get("class") == "occ-summary" and e is not None
                 and "sensor occupancy reports" in e.get("data-source", "")][:1]
    assert float(js_sum["data-fbo"]) == pytest.approx((45 + 180) / (180 * 15), abs=1e-6)
    assert doc.find(data_verdict="unlicensed")[0]["data-count"] == "2"
    assert doc.find(data_verdict="cross_border")[0]["data-count"] == "2"
    assert doc.find(data_pair="ZJ→JS")[0]["data-count"] == "2"
    (ack,) = doc.find(data_kind="ack")
    (res,) = doc.find(data_kind="resolve")
    assert float(ack["data-median-s"]) == 450.0 and float(ack["data-max-s"]) == 600.0 and ack["data-n"] == "2"
    assert float(res["data-max-s"]) == 1800.0
    assert [e["data-id"] for e in doc.items if e.get("class") == "alert"] == ["A1", "A2", "A4"]
    av = {e["data-sensor"]: e for e in doc.items if e.get("class") == "avail"}
    want = {a.sensor_id: a for a in report.availability}
    for sid in ("js-01", "zj-01"):
        assert float(av[sid]["data-uptime"]) == pytest.approx(want[sid].uptime_fraction, abs=1e-6)
    assert av["js-01"]["data-sample-drops"] == "7" and av["js-01"]["data-gaps"] == "2"
    st = {e["data-station"]: e["data-status"] for e in doc.items if e.get("class") == "station"}
    assert st == {"JS-T-1": "heard_expected", "ZJ-T-1": "not_heard"}
    (u,) = [e for e in doc.items if e.get("class") == "unlicensed" and e["tag"] == "tr"]
    assert float(u["data-channel-hz"]) == 446.05e6 and u["data-detections"] == "5"
    strong = [e for e in doc.items if e.get("class") == "strong"]
    assert float(strong[0]["data-power-dbm"]) == -70.0 and strong[0]["data-detections"] == "10"


def _pngs(html: str) -> list[tuple[str, Image.Image]]:
    out = []
    for kind, data in re.findall(r'data-plot="([^"]+)"[^>]*src="data:image/png;base64,([^"]+)"', html):
        out.append((kind, Image.open(io.BytesIO(base64.b64decode(data))).convert("L")))
    return out


def test_report_is_self_contained_with_non_blank_plots(html_en):
    assert "http://" not in html_en and "https://" not in html_en and "<script" not in html_en
    pngs = _pngs(html_en)
    kinds = [k for k, _ in pngs]
    assert kinds.count("fco") == 2 and kinds.count("spectrogram") == 1
    assert {"fbo-time", "alerts", "availability"} <= set(kinds)
    for kind, img in pngs:
        px = np.asarray(img, dtype=float)
        assert img.width >= 300 and img.height >= 100, kind
        assert px.std() > 10.0, f"{kind} plot looks blank (std {px.std():.1f})"
        assert (px < 200).mean() > 0.01, f"{kind} plot has almost no ink"


def test_spectrogram_shows_the_emission_column(report):
    from coordination.report.plots import spectrogram_plot

    spec = next(sb.spectrogram for sb in report.site_bands if sb.spectrogram is not None)
    png = spectrogram_plot(spec, "zj-01", lambda s: s)
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    # viridis: the -80 dBm cells are yellow (high red+green, low blue); there must be some
    yellow = (img[..., 0] > 200) & (img[..., 1] > 200) & (img[..., 2] < 100)
    assert yellow.sum() > 20


def test_chinese_report_has_chinese_headings_labels_and_codes(html_zh):
    assert '<html lang="zh-CN">' in html_zh
    for text in ("电磁环境报告", "各频段、各边界区域的频谱占用度", "许可台站与实测对比", "本期告警", "监测站可用性",
                 "江苏", "浙江", "未授权发射", "跨省干扰", "信道（MHz）", "重访次数", "在预期处收到"):
        assert text in html_zh, text
    for english in ("Electromagnetic environment report", "Licensed versus measured", "Sensor availability",
                    "Channel (MHz)", "Jiangsu"):
        assert english not in html_zh, english


def test_chinese_numbers_equal_english_numbers(html_en, html_zh):
    assert fco_rows(html_zh, "js-01")[CH_A_HZ]["data-fco"] == fco_rows(html_en, "js-01")[CH_A_HZ]["data-fco"]


def test_chinese_plots_use_a_cjk_font_when_installed(report):
    from coordination.report.i18n import translator
    from coordination.report.plots import plot_translator

    fam = cjk_font()
    if fam is None:
        pytest.skip("no CJK font installed (make fonts / apt-get install fonts-noto-cjk)")
    t, font = plot_translator(translator("zh_CN"), "zh_CN")
    assert font == fam and t("Frequency (MHz)") == "频率（MHz）"
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family=fam), fallback_to_default=False)
    from matplotlib.ft2font import FT2Font

    ft = FT2Font(path)
    assert all(ft.get_char_index(ord(c)) for c in "频率时间江苏")  # glyphs exist: no tofu boxes


def test_unknown_language_is_refused(report):
    with pytest.raises(UnknownLanguageError, match="fr_FR"):
        render_html(report, "fr_FR")


def test_wide_band_plots_stay_readable(report):
    """Thousands of channels and bins (a whole rules band): step-line FCO, max-reduced spectrogram columns."""
    import dataclasses

    from coordination.report.model import Spectrogram
    from coordination.report.occupancy import ChannelOccupancy
    from coordination.report.plots import MAX_COLUMNS, fco_plot, spectrogram_plot

    sb = next(s for s in report.site_bands if s.site.sensor_id == "zj-01")
    n_ch = 5112
    occupied = np.zeros(n_ch, np.int64)
    occupied[2000:2010] = 60
    occ = ChannelOccupancy("zj-01", "pmr_400", 406.1e6 + 12_500.0 * np.arange(n_ch), occupied,
                           np.full(n_ch, 120, np.int64), "archived spectra")
    png = fco_plot(dataclasses.replace(sb, occupancy=occ), lambda s: s)
    px = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert px.std() > 10.0
    n_bins = 20_448
    data = np.full((24, n_bins), -110.0)
    data[5, 12_345] = -60.0  # one hot bin must survive the column reduction
    spec = Spectrogram(np.linspace(0, 86400, 25), 406.1e6 + 3125.0 * np.arange(n_bins), data, 24)
    img = np.asarray(Image.open(io.BytesIO(spectrogram_plot(spec, "wide", lambda s: s))).convert("RGB"), dtype=float)
    yellow = (img[..., 0] > 200) & (img[..., 1] > 200) & (img[..., 2] < 100)
    assert yellow.sum() > 0 and n_bins > MAX_COLUMNS


def test_page_renders_headlessly_with_its_plots(html_zh, qapp):
    """Qt's HTML engine (offscreen) lays the report out: every data-URI image decodes, the page shows ink
    and the plots' colour where the plots are."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QColor, QImage, QPainter, QTextDocument

    doc = QTextDocument()
    doc.setHtml(html_zh)
    srcs = re.findall(r'src="(data:image/png;base64,[^"]+)"', html_zh)
    assert len(srcs) >= 5
    for src in srcs:
        pix = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(src))
        assert pix is not None and not pix.isNull() and pix.width() >= 300
    doc.setTextWidth(900)
    assert doc.size().height() > 2000  # a multi-page report, laid out
    img = QImage(900, 1600, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    painter = QPainter(img)
    doc.drawContents(painter)
    painter.end()
    ptr = img.constBits()
    px = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes()).reshape(1600, img.bytesPerLine() // 4, 4)
    b, g, r = px[..., 0].astype(int), px[..., 1].astype(int), px[..., 2].astype(int)
    assert ((r + g + b) < 600).mean() > 0.02  # text, tables and plots: not a blank page
    bars = (abs(r - 0x1F) < 20) & (abs(g - 0x77) < 20) & (abs(b - 0xB4) < 20)
    assert bars.sum() > 300  # the FCO bars / FBO line (matplotlib blue) made it onto the page
