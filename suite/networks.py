"""The distinct networks of a matrix: cells that differ only in how they train share one network to time.

A network is the architecture as the matrix builds it (its image size and head size) and, only when it changes
the structure (truncation, channel halving, adapters), the strategy with its parameters.
"""

from __future__ import annotations

import json

from suite.data.lock import lock_entry
from suite.matrix.cell import Cell
from suite.results.latency import Target
from suite.strategies import STRATEGIES


def network_of(cell: Cell) -> Target:
    c = cell.config
    strategy, params = None, "{}"
    if STRATEGIES.get(c.strategy.name).changes_network():
        strategy, params = c.strategy.spec, json.dumps(c.strategy.params, sort_keys=True)
    num_classes = lock_entry(c.dataset.name).num_classes
    return Target(c.architecture.name, c.train.image_size, num_classes, strategy, params)


def latency_targets(cells: list[Cell]) -> list[Target]:
    """The distinct networks of a matrix's cells, in first-seen order (strategies that only freeze collapse)."""
    return list(dict.fromkeys(network_of(cell) for cell in cells))
