"""The base of the console's tables of server documents (alerts, cases): one JSON document a row.

Rows, columns and the header are the same for every such table; a subclass names its columns,
gives the translated :meth:`DocumentTableModel.headers` and its own ``data`` and updates.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt


class DocumentTableModel(QAbstractTableModel):
    """Documents in ``_rows`` (one a row), columns by name in :attr:`columns`."""

    columns: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []

    def headers(self) -> list[str]:
        """The column titles, translated, in the order of :attr:`columns`."""
        raise NotImplementedError

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers()[section]
        return None

    def at(self, row: int) -> dict[str, Any]:
        """The document shown in row ``row``."""
        return self._rows[row]
