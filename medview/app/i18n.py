"""Interface languages (issue 3): medview's Qt translations plus Qt's own.

Translations are compiled ``.qm`` files under ``medview/resources/i18n`` (sources: the
``.ts`` next to them; rebuild with ``pyside6-lrelease``). The language comes from the
``language`` setting, or from the system locale when that is empty. It is installed once at
start-up: switching needs a restart, because already built widgets keep their text.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from medview.app.resources import resource_path

__all__ = ["LANGUAGE_NAMES", "install_translators", "resolve_language"]

log = logging.getLogger(__name__)

#: Shipped languages and their names as their readers write them (not translated on purpose:
#: a user who cannot read the current language must still find their own).
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}


def resolve_language(setting: str, locale: QLocale | None = None) -> str:
    """The language to use: the setting, else the system locale when shipped, else English."""
    if setting in LANGUAGE_NAMES:
        return setting
    name = (locale or QLocale.system()).name()  # e.g. "zh_CN", "de_DE"
    if name in LANGUAGE_NAMES:
        return name
    if name.startswith("zh") and "Hant" not in (locale or QLocale.system()).bcp47Name():
        return "zh_CN"
    return "en"


def install_translators(app: QCoreApplication, language: str) -> list[QTranslator]:
    """Load and install medview's (and Qt's) translations for ``language``.

    Returns the installed translators; the caller keeps them alive (Qt does not own them).
    English needs none. A missing file is logged, and the interface stays in English.
    """
    if language == "en" or language not in LANGUAGE_NAMES:
        return []
    installed: list[QTranslator] = []
    ours = QTranslator(app)
    qm = resource_path("i18n", f"medview_{language}.qm")
    if ours.load(str(qm)):
        app.installTranslator(ours)
        installed.append(ours)
    else:
        log.warning("no medview translation for %s at %s", language, qm)
    # Qt's own strings (standard buttons, file dialogs), when the Qt build ships them.
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qt_translator = QTranslator(app)
    if qt_translator.load(f"qtbase_{language}", qt_dir):
        app.installTranslator(qt_translator)
        installed.append(qt_translator)
    return installed
