"""User-facing errors: one line, no traceback, exit code 2.

Anything a user can get wrong (a matrix, a dataset on disk, a missing weight) raises `UserError`. The CLI prints
`str(error)` and exits 2; every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake the user can fix. The message is one line and says how."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class MissingWeightsError(UserError):
    """Pretrained weights are not in any local cache; the message names the command that fetches them.

    `reason` says which weights and where they were looked for; `fetch` is the command that fetches just them
    (`medtl-bench weights fetch --arch NAME`). A caller that knows the matrix adds its command (`for_matrix`).
    """

    def __init__(self, reason: str, fetch: str | None = None) -> None:
        self.reason, self.fetch = reason, fetch
        super().__init__(f"{reason}; on a machine with internet run `{fetch}`" if fetch else reason)

    def for_matrix(self, matrix: str) -> str:
        """The one line a cell of `matrix` records: the matrix's fetch command, then the architecture's."""
        if not self.fetch:
            return str(self)
        return (
            f"{self.reason}; on a machine with internet run `medtl-bench weights fetch {matrix}` (every weight the"
            f" matrix needs) or `{self.fetch}`"
        )


class DataVerificationError(UserError):
    """The dataset on disk does not match its datasets.lock entry."""


class TrainingDiverged(UserError):
    """The training loss became NaN or infinite: the cell stops at once and says where (a lower LR usually helps)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`unknown 'resnet5'; did you mean 'resnet50'? valid: ...` in one line."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(choices[:40]) + (", ..." if len(choices) > 40 else "")
    return f"unknown {name!r}{hint} valid: {shown}"
