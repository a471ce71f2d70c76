"""The catalog resolves a matrix without building a model: the shipped facts table must match timm, and a variant
that does not exist on an architecture is a matrix error at its line, before anything runs."""

from __future__ import annotations

import json

import pytest

from suite.catalog import SuiteCatalog
from suite.catalog.facts import compute_table, live_facts, shipped
from suite.errors import UserError
from suite.matrix import load_matrix
from suite.models.catalog import ARCHITECTURES

SMALL = ["resnet18", "vgg19", "tf_efficientnet_lite0", "torchvision:mobilenet_v2"]
ALL = [spec.model_id for _, spec in ARCHITECTURES.items()]


def test_the_shipped_table_is_for_the_installed_timm():
    assert shipped(), (
        "suite/catalog/facts.json is missing or for another timm: run python -m suite.catalog.facts"
    )


@pytest.mark.parametrize("timm_name", SMALL)
def test_shipped_facts_equal_the_live_computation(timm_name):
    """Blocks and variants (the cost fields, params and MACs, are checked by the slow test)."""
    structure = {
        k: v for k, v in shipped()["architectures"][timm_name].items() if k in ("blocks", "variants")
    }
    assert structure == live_facts(timm_name).to_json()


@pytest.mark.slow
def test_the_whole_shipped_table_equals_the_live_computation():
    table = json.loads(json.dumps(compute_table()))  # tuples → lists, as in the file
    assert table == shipped()


def write(tmp_path, strategies: str, arch: str = "resnet18"):
    path = tmp_path / "m.yaml"
    path.write_text(
        f"datasets: [synthetic-vessels]\narchitectures: [{arch}]\nstrategies: {strategies}\nseeds: 1\n"
    )
    return path


@pytest.mark.parametrize(
    ("strategies", "arch", "message"),
    [
        ("[ft, 'swft@99']", "resnet18", r"m.yaml:3:\d+: swft@99 does not exist on resnet18"),
        ("['ft@3']", "resnet18", r"m.yaml:3:\d+: strategy 'ft' has no variants; write it without '@3'"),
        ("['ttl@block9']", "resnet18", r"ttl@block9 does not exist on resnet18: variant 'block9'"),
        ("['tf@layer3.0']", "resnet50", r"tf cannot halve resnet50 above layer3.0"),
    ],
)
def test_a_variant_the_architecture_lacks_is_a_matrix_error(tmp_path, strategies, arch, message):
    with pytest.raises(UserError, match=message) as info:
        load_matrix(str(write(tmp_path, strategies, arch)), SuiteCatalog())
    assert "\n" not in str(info.value)


def test_valid_named_variants_expand(tmp_path):
    matrix = load_matrix(str(write(tmp_path, "['swft@6', 'ttl@layer3.0', 'tf@block2']")), SuiteCatalog())
    assert [c.key["strategy"] for c in matrix.cells] == ["swft@6", "ttl@layer3.0", "tf@block2"]
