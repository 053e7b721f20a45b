"""Catalogues are complete and current: every marked string has a zh_CN translation; compiled files match sources."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

from borderwatch import i18n_build
from coordination.report.catalogue import read_po, write_mo

PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)[sdr]|%[sdr]")


def test_cli_catalogue_has_a_zh_cn_translation_for_every_string() -> None:
    ids = i18n_build.extract()
    assert len(ids) > 150  # --help of every command, errors, progress lines, argparse's own words
    entries = read_po(i18n_build.po_path("zh_CN"))
    missing = sorted(k for k in ids if not entries.get(k))
    assert missing == [], f"untranslated (run python -m borderwatch.i18n_build update, translate, compile): {missing}"


def test_cli_translations_keep_their_placeholders() -> None:
    entries = read_po(i18n_build.po_path("zh_CN"))
    for msgid, msgstr in entries.items():
        if msgid:
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid


def test_cli_mo_is_compiled_from_the_current_po(tmp_path: Path) -> None:
    for lang in i18n_build.languages():
        fresh = tmp_path / f"{lang}.mo"
        write_mo(read_po(i18n_build.po_path(lang)), fresh)
        assert i18n_build.mo_path(lang).read_bytes() == fresh.read_bytes(), \
            f"{i18n_build.mo_path(lang)} is stale: run python -m borderwatch.i18n_build compile"


def test_cli_po_lists_exactly_the_strings_in_the_code() -> None:
    """No stale msgids either (a changed English text must be re-translated, not silently kept)."""
    entries = read_po(i18n_build.po_path("zh_CN"))
    assert sorted(k for k in entries if k) == sorted(i18n_build.extract())


@pytest.mark.parametrize("msgid", ["usage: ", "the following arguments are required: %s"])
def test_compiled_catalogue_is_what_gettext_reads(msgid: str) -> None:
    t = gettext.translation(i18n_build.DOMAIN, localedir=str(i18n_build.LOCALE_DIR), languages=["zh_CN"])
    assert t.gettext(msgid) != msgid and re.search(r"[\u4e00-\u9fff]", t.gettext(msgid))


# -- every catalogue, one place: extract, then no string without a zh_CN translation ----------------


def _cli_missing() -> list[str]:
    entries = read_po(i18n_build.po_path("zh_CN"))
    return sorted(k for k in i18n_build.extract() if not entries.get(k))


def _report_missing() -> list[str]:
    from coordination.report import catalogue

    entries = read_po(catalogue.po_path("zh_CN"))
    return sorted(k for k in catalogue.extract() if not entries.get(k))


def _console_missing(tmp_path: Path) -> list[str]:
    """lupdate the gui sources into a copy of the shipped .ts: a new tr() string arrives unfinished."""
    import importlib.util
    import shutil
    import xml.etree.ElementTree as ET

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("console_catalogue", root / "tools" / "console_catalogue.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)  # type: ignore[union-attr]
    ts = tmp_path / "zh_CN.ts"
    shutil.copy(tool.ts_path("zh_CN"), ts)
    try:
        tool.update("zh_CN", ts=ts)
    except SystemExit:
        pytest.skip("pyside6-lupdate not installed")
    missing = []
    for ctx in ET.parse(ts).getroot().iter("context"):
        for msg in ctx.iter("message"):
            t = msg.find("translation")
            if not (t.text or "").strip() or t.get("type") is not None:
                missing.append(f"{ctx.findtext('name')}: {msg.findtext('source')}")
    return missing


@pytest.mark.parametrize("catalogue", ["cli", "report", "console"])
def test_no_string_without_a_zh_cn_translation(catalogue: str, tmp_path: Path) -> None:
    missing = {"cli": _cli_missing, "report": _report_missing,
               "console": lambda: _console_missing(tmp_path)}[catalogue]()
    assert missing == [], f"{catalogue}: strings without a zh_CN translation: {missing}"


# -- strings that never reached a catalogue (not marked at all) -----------------------------------

ROOT = Path(__file__).resolve().parents[2]
HELP_KEYWORDS = ("help", "description", "epilog")
QT_TEXT_CALLS = {  # callable name -> which positional arguments are user-visible text
    "QLabel": 0, "QPushButton": 0, "QCheckBox": 0, "QRadioButton": 0, "QToolButton": 0, "QGroupBox": 0,
    "QAction": 0, "QDockWidget": 0, "QToolBar": 0, "setText": 0, "setWindowTitle": 0, "setToolTip": 0,
    "setPlaceholderText": 0, "setStatusTip": 0, "setTitle": 0, "showMessage": 0, "addItem": 0, "addTab": 1,
    "addMenu": 0, "setSpecialValueText": 0, "setLabel": 1, "setHorizontalHeaderLabels": 0, "setHeaderLabels": 0,
}
LETTERS = re.compile(r"[A-Za-z]{2,}")


def _literal_text(node: ast.AST) -> str | None:
    """The literal text of a plain or f-string node (None for anything computed)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.List | ast.Tuple):
        texts = [_literal_text(e) for e in node.elts]
        return " ".join(t for t in texts if t) or None
    return None


def _call_name(node: ast.Call) -> str | None:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)


def test_every_cli_help_text_is_marked_for_translation() -> None:
    unmarked = []
    for path in sorted((ROOT / "borderwatch").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    text = _literal_text(kw.value) if kw.arg in HELP_KEYWORDS else None
                    if text and LETTERS.search(text):
                        unmarked.append(f"{path.name}:{kw.value.lineno}: {kw.arg}={text[:50]!r}")
    assert unmarked == [], f"wrap in _() (borderwatch.i18n) and translate: {unmarked}"


def test_every_console_text_goes_through_qt_translation() -> None:
    unmarked = []
    for path in sorted((ROOT / "gui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _call_name(node) in QT_TEXT_CALLS:
                i = QT_TEXT_CALLS[_call_name(node)]  # type: ignore[index]
                text = _literal_text(node.args[i]) if len(node.args) > i else None
                if text and LETTERS.search(text):
                    unmarked.append(f"{path.name}:{node.lineno}: {_call_name(node)}({text[:50]!r})")
    assert unmarked == [], f"use self.tr() / gui.i18n.translate() and update the .ts: {unmarked}"
