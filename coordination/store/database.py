"""The server database: one connection, one transaction boundary, one repository per concern.

SQLite (WAL) by default; a ``postgresql://`` target puts it in the database the federated centres
share (:mod:`station_db.backend` absorbs the SQL differences; one schema, versioned migrations for
both, :mod:`coordination.store.schema`). One connection, used only by the server loop thread.
Writes are grouped: the loop stages a whole drained batch and commits it in one transaction
(:meth:`Store.commit`), so the cost of a commit is shared by hundreds of messages and an ack never
precedes the commit of what it acknowledges.

The repositories, each with its own tables and SQL, all writing through the same
:class:`~coordination.store.unit.UnitOfWork`:

- :attr:`Store.ledger` (:class:`~coordination.store.ledger.SeqLedger`): which (sensor, seq) are stored;
- :attr:`Store.sensors` (:class:`~coordination.store.sensors.SensorRepository`): the registry rows, health;
- :attr:`Store.summaries` (:class:`~coordination.store.summaries.SummaryRepository`): emissions, occupancy;
- :attr:`Store.alerts` (:class:`~coordination.store.alerts.AlertRepository`): alerts and federation claims;
- :attr:`Store.evidence` (:class:`~coordination.store.evidence.EvidenceOrders`): IQ capture orders;
- :attr:`Store.counters` (:class:`~coordination.store.counters.CounterRepository`): persisted counters;
- :attr:`Store.cases` (:class:`~coordination.store.cases.CaseTables`): enforcement cases' event log, tasking audit;
- :attr:`Store.requests` (:class:`~coordination.store.requests.RequestTables`): coordination requests, their audit;
- :attr:`Store.learnt` (:class:`~coordination.store.learnt.LearntStateRepository`): what the rules engine learnt.
"""

from __future__ import annotations

from pathlib import Path

from coordination.store.alerts import AlertRepository
from coordination.store.cases import CaseTables
from coordination.store.counters import CounterRepository
from coordination.store.evidence import EvidenceOrders
from coordination.store.learnt import LearntStateRepository
from coordination.store.ledger import SeqLedger
from coordination.store.requests import RequestTables
from coordination.store.schema import MIGRATIONS, SCHEMA_VERSION, legacy_version
from coordination.store.sensors import SensorRepository
from coordination.store.summaries import SummaryRepository
from coordination.store.unit import StorageError, UnitOfWork
from station_db.backend import Database, DatabaseError, SchemaError, is_postgres_url, migrate, open_database


class Store:
    """The server database (SQLite file or shared PostgreSQL); one transaction per drained batch.

    ``path``: a SQLite file, or a ``postgresql://`` URL. ``centre``: the province code of the
    monitoring centre writing (federation); it keys the counters and marks the alerts this centre
    wrote, so centres sharing one database keep their own counters and restore only their own
    engine state. ``None`` (one server) reads and writes everything.
    """

    def __init__(self, path: Path | str, *, fsync: bool = False, centre: str | None = None) -> None:
        self.path = path if is_postgres_url(str(path)) else Path(path)
        self.centre = centre
        try:
            self.db: Database = open_database(str(path) if is_postgres_url(str(path)) else Path(path), fsync=fsync,
                                              schema="coordination")
            migrate(self.db, "server", MIGRATIONS, legacy_version=legacy_version)
            self.db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        except SchemaError:
            raise
        except DatabaseError as exc:
            raise StorageError(str(exc)) from exc
        except Exception as exc:
            raise StorageError(f"cannot open the server database {path}: {exc}") from exc
        self.unit = UnitOfWork(self.db)
        #: What the driver raises (sqlite3.Error or psycopg.Error), for callers that catch storage failures.
        self.errors: tuple[type[BaseException], ...] = self.unit.errors
        self.ledger = SeqLedger(self.unit)
        self.sensors = SensorRepository(self.unit)
        self.summaries = SummaryRepository(self.unit)
        self.alerts = AlertRepository(self.unit, centre)
        self.evidence = EvidenceOrders(self.unit)
        self.counters = CounterRepository(self.unit, centre)
        self.cases = CaseTables(self.unit, centre)
        self.requests = RequestTables(self.unit)
        self.learnt = LearntStateRepository(self.unit, centre)

    @property
    def shared(self) -> bool:
        """Whether this store is the PostgreSQL the centres share."""
        return self.db.is_postgres

    # ------------------------------------------------------------ the transaction boundary

    def begin(self) -> None:
        """Start the batch transaction (idempotent)."""
        self.unit.begin()

    def commit(self) -> None:
        """Commit the batch; raise StorageError (after rolling back) when it cannot be written."""
        self.unit.commit()

    def rollback(self) -> None:
        self.unit.rollback()

    def savepoint(self) -> None:
        """Mark a point inside the batch so one message's writes can be undone alone."""
        self.unit.savepoint()

    def release_savepoint(self) -> None:
        self.unit.release_savepoint()

    def rollback_savepoint(self) -> None:
        self.unit.rollback_savepoint()

    def close(self) -> None:
        self.unit.close()
