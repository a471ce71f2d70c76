"""Results: the typed schema of one cell's result, the atomic store, and the layout of a matrix's results folder."""

from suite.results.layout import Artifact, RunPaths, list_artifacts, status_of, write_manifest
from suite.results.schema import (
    SCHEMA_VERSION,
    BatchTiming,
    CellResult,
    LatencyRecord,
    MacsRecord,
    MemoryRecord,
    SplitMetrics,
)
from suite.results.store import (
    atomic_write_bytes,
    atomic_write_from,
    atomic_write_many,
    load_results,
    read_result,
    sanitise,
    write_predictions,
    write_result,
)
from suite.results.temps import remove_dead_writers, remove_temps_of

__all__ = [
    "SCHEMA_VERSION",
    "Artifact",
    "BatchTiming",
    "CellResult",
    "LatencyRecord",
    "MacsRecord",
    "MemoryRecord",
    "RunPaths",
    "SplitMetrics",
    "atomic_write_bytes",
    "atomic_write_from",
    "atomic_write_many",
    "list_artifacts",
    "load_results",
    "read_result",
    "remove_dead_writers",
    "remove_temps_of",
    "sanitise",
    "status_of",
    "write_manifest",
    "write_predictions",
    "write_result",
]
