"""Console localisation with Qt's own mechanism (QTranslator + compiled .qm catalogues).

Every user-visible string in ``gui`` goes through ``self.tr()`` (QObject subclasses) or
:func:`translate` (``QCoreApplication.translate`` with an explicit context), so adding a language is
only a matter of catalogues: ``pyside6-lupdate gui/*.py -ts gui/data/borderwatch_zh_CN.ts`` then
``pyside6-lrelease`` into ``gui/data/borderwatch_zh_CN.qm``, which :func:`install_translator` loads.
"""

from __future__ import annotations

import logging
from importlib import resources

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

log = logging.getLogger(__name__)

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "zh_CN")
CATALOGUE_PREFIX = "borderwatch_"


def translate(context: str, text: str, disambiguation: str | None = None) -> str:
    """Translate ``text`` in ``context`` (for code outside a QObject, e.g. module-level tables)."""
    return QCoreApplication.translate(context, text, disambiguation)


def resolve_language(lang: str | None) -> str:
    """The language to use: ``lang`` if given, else the system locale's (``en`` when unsupported)."""
    if lang:
        if lang not in SUPPORTED_LANGUAGES:
            raise ValueError(f"language {lang!r} not supported (choose one of {', '.join(SUPPORTED_LANGUAGES)})")
        return lang
    name = QLocale.system().name()  # e.g. zh_CN
    return name if name in SUPPORTED_LANGUAGES else "en"


def install_translator(app: QCoreApplication, lang: str | None) -> QTranslator | None:
    """Load the compiled catalogue for ``lang`` into ``app``; None for English or a missing catalogue.

    The returned translator must be kept alive by the caller (Qt does not own it).
    """
    language = resolve_language(lang)
    if language == "en":
        return None
    qm = resources.files("gui").joinpath("data", f"{CATALOGUE_PREFIX}{language}.qm")
    translator = QTranslator(app)
    if not qm.is_file() or not translator.load(str(qm)):
        log.warning("no compiled catalogue for %s (%s): showing English", language, qm)
        return None
    app.installTranslator(translator)
    # Qt's own words (standard buttons, line-edit context menus) from the catalogues PySide6 ships.
    qt_base = QTranslator(app)
    if qt_base.load(f"qtbase_{language}", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
        app.installTranslator(qt_base)
    return translator
