"""The server's store (see :mod:`coordination.store.database`)."""

from coordination.store.alerts import AlertClaim, AlertRepository, DatabaseAlertStore
from coordination.store.cases import CaseTables
from coordination.store.counters import CounterRepository
from coordination.store.database import Store
from coordination.store.evidence import EvidenceOrders
from coordination.store.learnt import LearntStateRepository
from coordination.store.ledger import SeqLedger, SeqRanges
from coordination.store.requests import RequestTables
from coordination.store.schema import MIGRATIONS, SCHEMA_VERSION
from coordination.store.sensors import SensorRecord, SensorRepository
from coordination.store.summaries import SummaryRepository
from coordination.store.unit import StorageError, UnitOfWork

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AlertClaim",
    "AlertRepository",
    "CaseTables",
    "CounterRepository",
    "DatabaseAlertStore",
    "EvidenceOrders",
    "LearntStateRepository",
    "RequestTables",
    "SensorRecord",
    "SensorRepository",
    "SeqLedger",
    "SeqRanges",
    "StorageError",
    "Store",
    "SummaryRepository",
    "UnitOfWork",
]
