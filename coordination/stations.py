"""The server's station repository: a SQLite station database as given, or a CSV/JSON exchange file
imported (per province, idempotently) into ``<data>/stations.db`` at start."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from station_db.exchange import file_sha256, load_station_file
from station_db.repository import StationRepository

log = logging.getLogger(__name__)


def open_stations(path: Path | None, data_dir: Path) -> StationRepository:
    """The station repository for a server whose data directory is ``data_dir``.

    ``path``: None (``<data>/stations.db``, possibly empty), a ``.db`` file, or a ``.csv``/``.json``
    exchange file imported into ``<data>/stations.db`` (an unchanged file imports nothing new).
    """
    if path is None:
        return StationRepository(data_dir / "stations.db")
    path = Path(path)
    if path.suffix.lower() in (".csv", ".json"):
        loaded = load_station_file(path)
        per_province = Counter(s.province for s in loaded.stations)
        repo = StationRepository(data_dir / "stations.db")
        for report in repo.import_all_provinces(loaded.stations, path.name, file_sha256(path),
                                                coordination_given=loaded.coordination_given):
            log.info("imported %s stations of %s from %s: %d new, %d updated, %d unchanged",
                     per_province[report.province], report.province, path, report.inserted, report.updated,
                     report.unchanged)
        return repo
    if not path.exists():
        raise FileNotFoundError(f"station database {path} not found (give a .db, .csv or .json file)")
    return StationRepository(path)
