"""The report catalogue: every user-visible string has a zh_CN translation, and the .mo is up to date."""

from __future__ import annotations

import gettext

from coordination.report.catalogue import extract, po_path, read_po, write_mo
from coordination.report.i18n import BAND_NAMES, CODE_LABELS, DOMAIN, LOCALE_DIR, label, translator


def test_every_report_string_has_a_chinese_translation():
    entries = read_po(po_path("zh_CN"))
    ids = extract()
    assert len(ids) > 80
    missing = [k for k in ids if not entries.get(k)]
    assert not missing, f"untranslated report strings (run python -m coordination.report.catalogue update): {missing}"


def test_compiled_catalogue_matches_its_source(tmp_path):
    entries = read_po(po_path("zh_CN"))
    shipped = gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=["zh_CN"])
    for k, v in entries.items():
        if k:
            assert shipped.gettext(k) == v, f"{k!r}: .mo is stale (python -m coordination.report.catalogue compile)"
    write_mo(entries, tmp_path / "x.mo")
    assert (tmp_path / "x.mo").read_bytes() == po_path("zh_CN").with_suffix(".mo").read_bytes()


def test_extraction_sees_strings_inside_f_strings(tmp_path):
    src = tmp_path / "m.py"
    src.write_text('x = f"<h1>{_e(_(\'Inside\'))}</h1>"\ny = N_("Marked")\nz = t("Plot " "label")\n', encoding="utf-8")
    assert extract([src]) == ["Inside", "Marked", "Plot label"]


def test_codes_and_band_names_shown_in_chinese():
    _ = translator("zh_CN")
    assert [label(c, _) for c in ("SH", "JS", "ZJ", "AH")] == ["上海", "江苏", "浙江", "安徽"]
    assert [label(v, _) for v in ("unlicensed", "cross_border", "licence_violation")] == ["未授权发射", "跨省干扰",
                                                                                         "违规发射"]
    assert [label(s, _) for s in ("broadcast", "aeronautical", "maritime")] == ["广播", "航空", "水上"]
    assert label("Maritime VHF", _) == "水上甚高频"
    assert label("XX", _) == "XX"  # unknown codes are shown as they are
    assert set(CODE_LABELS) >= {"SH", "JS", "ZJ", "AH"} and "PMR 400" in BAND_NAMES


def test_shipped_rules_band_names_are_all_in_the_catalogue():
    from station_db.rules import load_rules

    assert {b.name for b in load_rules().bands} <= set(BAND_NAMES)
