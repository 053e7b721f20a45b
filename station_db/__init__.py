"""Shared station data: licensed stations, exchange files, coordination rules and geography.

Re-exports the public names; see the modules for the why of each.
"""

from station_db.designator import DesignatorError, EmissionDesignator, necessary_bandwidth_hz, parse_designator
from station_db.exchange import FieldError, StationFileError, read_stations, write_stations
from station_db.models import MEMBER_PROVINCES, SERVICES, ImportReport, Sensor, Station
from station_db.repository import ImportRejectedError, StationRepository
from station_db.rules import BandRule, RulesError, RuleSet, load_rules

__all__ = [
    "MEMBER_PROVINCES",
    "SERVICES",
    "BandRule",
    "DesignatorError",
    "EmissionDesignator",
    "FieldError",
    "ImportRejectedError",
    "ImportReport",
    "RuleSet",
    "RulesError",
    "Sensor",
    "Station",
    "StationFileError",
    "StationRepository",
    "load_rules",
    "necessary_bandwidth_hz",
    "parse_designator",
    "read_stations",
    "write_stations",
]
