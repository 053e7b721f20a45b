"""The regulator's console: pyqtgraph widgets in one dockable window, fed by the server or an archive.

Re-exports the public names; see the modules for the why of each (``app`` the window, ``client``
the ZeroMQ worker, ``spectrum``/``waterfall``/``occupancy``/``map``/``alerts``/``stations``/
``sensors`` the views, ``archive`` the replay reader, ``i18n`` the translation plumbing).
"""

from gui.app import MainWindow
from gui.archive import ArchiveError, ArchiveReader
from gui.client import AddressError, ServerClient, resolve_addresses
from gui.i18n import install_translator, translate

__all__ = [
    "AddressError",
    "ArchiveError",
    "ArchiveReader",
    "MainWindow",
    "ServerClient",
    "install_translator",
    "resolve_addresses",
    "translate",
]
