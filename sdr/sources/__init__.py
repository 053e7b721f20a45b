"""IQ sources behind one small interface: RTL-SDR, rtl_tcp, recordings and the simulator."""

from sdr.sources.base import (
    RingBuffer,
    Source,
    SourceBase,
    SourceError,
    SourceUnavailable,
    complex64_to_u8,
    u8_to_complex64,
)
from sdr.sources.file import FileSource
from sdr.sources.rtlsdr import RtlSdrSource
from sdr.sources.rtltcp import RtlTcpSource
from sdr.sources.simulated import SimulatedSource
from sdr.sources.uri import URI_HELP, open_source

__all__ = [
    "URI_HELP",
    "FileSource",
    "RingBuffer",
    "RtlSdrSource",
    "RtlTcpSource",
    "SimulatedSource",
    "Source",
    "SourceBase",
    "SourceError",
    "SourceUnavailable",
    "complex64_to_u8",
    "open_source",
    "u8_to_complex64",
]
