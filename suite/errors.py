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
    """Pretrained weights are not in any local cache; the message names the command that fetches them."""


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
