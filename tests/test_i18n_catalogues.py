"""Catalogues are complete and current: every marked string has a zh_CN translation; compiled files match sources."""

from __future__ import annotations

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
