"""Small wording helpers shared by the section's tables: p-values and counted nouns."""

from __future__ import annotations


def fmt_p(p: float) -> str:
    """p-values at the precision a reader needs: three decimals, and `< 0.001` below that."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_is(p: float) -> str:
    """`p = 0.012` or `p < 0.001`."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def plural(n: int, noun: str) -> str:
    """`1 dataset`, `3 datasets`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
