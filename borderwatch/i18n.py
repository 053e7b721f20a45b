"""Language of the command line (``--help``, errors, progress lines, the demo's live view).

The standard library's own mechanism: GNU gettext catalogues (``borderwatch/locale/<lang>/
LC_MESSAGES/borderwatch.po``, compiled to ``.mo`` by :mod:`borderwatch.i18n_build` and shipped
beside it). The language follows the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, the order
POSIX gives them) unless ``--lang`` says otherwise. Machine-readable output (``--json``) never
goes through :func:`_`: it carries codes, not words.

argparse produces its own words ("usage:", "the following arguments are required") through
``gettext.gettext`` of the process-wide domain, which only follows environment variables; so
that ``--lang`` governs them as well, :func:`set_language` routes argparse's two lookup names to
this module's catalogue (its msgids are listed in :data:`ARGPARSE_MESSAGES` for the extractor).
"""

from __future__ import annotations

import argparse
import gettext
import os
from collections.abc import Mapping
from pathlib import Path

DOMAIN = "borderwatch"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES: tuple[str, ...] = ("en", "zh_CN")
_LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


class UnknownLanguageError(ValueError):
    """A language the project has no catalogue for."""


def N_(text: str) -> str:
    """Mark ``text`` for the catalogue where it is defined; it is translated where it is shown."""
    return text


def _(text: str) -> str:
    """``text`` in the current language (itself when the catalogue has no translation)."""
    return _translation.gettext(text)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def normalise_language(value: str) -> str:
    """``zh_CN`` from ``zh_CN``, ``zh-CN``, ``zh``, ``zh_CN.UTF-8``; ``en`` from ``en``, ``C``, ``POSIX``.

    Any Chinese locale maps to zh_CN (Simplified Chinese, the only Chinese catalogue).
    Raises :class:`UnknownLanguageError` for anything else.
    """
    base = value.strip().split(".")[0].split("@")[0].replace("-", "_")
    if base.lower() == "zh" or base.lower().startswith("zh_"):
        return "zh_CN"
    if base in ("C", "POSIX", "") or base.lower() == "en" or base.lower().startswith("en_"):
        return "en"
    raise UnknownLanguageError(f"language {value!r} is not available (choose one of {', '.join(LANGUAGES)})")


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale variables ask for (the first one set wins); ``en`` when unsupported."""
    env = os.environ if environ is None else environ
    for name in _LOCALE_VARIABLES:
        value = env.get(name)
        if value:
            try:
                return normalise_language(value)
            except UnknownLanguageError:
                return "en"
    return "en"


def set_language(lang: str | None) -> str:
    """Use ``lang`` (or the locale's language when None) for every later :func:`_`; returns it."""
    global _translation, _language
    language = normalise_language(lang) if lang else language_from_environment()
    if language == "en":
        _translation = gettext.NullTranslations()
    else:
        try:
            _translation = gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[language])
        except OSError as exc:
            raise UnknownLanguageError(f"no compiled catalogue for {language} under {LOCALE_DIR}: {exc}") from exc
    _language = language
    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = ngettext  # type: ignore[attr-defined]
    return language


def current_language() -> str:
    """The language :func:`set_language` chose last (``en`` before any call)."""
    return _language


def lang_argument(value: str) -> str:
    """argparse ``type=`` for ``--lang``: a normalised language code or a usage error."""
    try:
        return normalise_language(value)
    except UnknownLanguageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# argparse's own messages (Python 3.11-3.13 wording) that a user can meet.
ARGPARSE_MESSAGES: tuple[str, ...] = (
    N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"), N_("%(prog)s: error: %(message)s\n"),
    N_("the following arguments are required: %s"), N_("one of the arguments %s is required"),
    N_("unrecognized arguments: %s"), N_("not allowed with argument %s"), N_("ignored explicit argument %r"),
    N_("expected one argument"), N_("expected at most one argument"), N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"), N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"), N_("can't open '%(filename)s': %(error)s"),
    N_("unexpected option string: %s"),
)
