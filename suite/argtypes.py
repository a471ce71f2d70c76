"""argparse value types for the command line: each turns a bad value into argparse's one-line error."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer ≥ `low` (`--jobs 0` would otherwise be taken as "the default")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer ≥ {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be ≥ {low}, got {value}")
        return value

    parse.__name__ = f"integer ≥ {low}"  # what argparse names in its own messages
    return parse


def batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(b) for b in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"batch sizes are integers separated by commas, not {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be ≥ 1, not {text!r}")
    return sizes
