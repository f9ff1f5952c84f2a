"""Parity harness: originals vs converted artifacts in their real runtimes."""

from .harness import compare, verify
from .probes import Probe, probe_rows
from .report import ParityReport, WorstRow

__all__ = ["ParityReport", "Probe", "WorstRow", "compare", "probe_rows", "verify"]
