"""The leaderboard's tables. Importing this package registers them.

Default order (each table's `order`): per dataset davila, checkpoints, relative, efficiency, pareto, two_step,
per_class, learning_curves, roc; after every dataset best, effectiveness, significance. Each module registers its table with `@table(name, scope, order)`
(suite/report/tables/registry.py).
"""

from suite.report.tables import (
    checkpoints,  # noqa: F401  (checkpoints)
    davila,  # noqa: F401  (registers davila)
    efficiency,  # noqa: F401  (efficiency)
    learning,  # noqa: F401  (learning_curves)
    pareto,  # noqa: F401  (pareto)
    per_class,  # noqa: F401  (per_class)
    relative,  # noqa: F401  (relative)
    roc,  # noqa: F401  (roc)
    significance,  # noqa: F401  (significance)
    summary,  # noqa: F401  (best, effectiveness)
    two_step,  # noqa: F401  (two_step)
)
from suite.report.tables.registry import TABLES, Table, chosen, table

__all__ = ["TABLES", "Table", "chosen", "table"]
