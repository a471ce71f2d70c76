"""Every registered name carries what the report and the command line show: generated from the registries."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from suite.errors import UserError
from suite.metrics import METRICS
from suite.report.naming import metric_label, strategy_label
from suite.report.tables import TABLES
from suite.strategies import STRATEGIES, Strategy, registered


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_has_its_name_label_kind_and_card_on_its_class(name):
    cls = STRATEGIES.get(name)
    assert cls.name == name and cls.label and strategy_label(name) == cls.label
    assert cls.variant_kind in (None, "cut", "step")
    assert (cls.__doc__ or "").strip().splitlines()[0]  # the card's first line, shown by `list strategies`


@pytest.mark.parametrize("name", METRICS.names())
def test_every_metric_has_a_label_and_a_direction(name):
    info = METRICS.get(name)
    assert info.label and metric_label(name) == info.label and isinstance(info.higher_is_better, bool)


def test_a_strategy_without_a_label_cannot_be_registered():
    @dataclass(frozen=True)
    class Unlabelled(Strategy):
        name = "unlabelled"

    with pytest.raises(TypeError, match="label"):
        registered(Unlabelled)
    assert "unlabelled" not in STRATEGIES


def test_unknown_names_say_did_you_mean():
    with pytest.raises(UserError, match="did you mean 'accuracy'"):
        METRICS.get("acuracy")
    with pytest.raises(UserError, match="did you mean 'lp-ft'"):
        STRATEGIES.get("lpft")
    with pytest.raises(UserError, match="did you mean 'davila'"):
        TABLES.get("davilla")


def test_every_table_has_a_scope_and_a_distinct_default_place():
    tables = [t for _, t in TABLES.items()]
    assert {t.scope for t in tables} == {"dataset", "matrix"}
    for scope in ("dataset", "matrix"):
        orders = [t.order for t in tables if t.scope == scope]
        assert len(orders) == len(set(orders))
