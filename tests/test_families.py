"""The table of claim families (harness.spec.families): it covers the registry, its dotted names resolve, every family
has a claim test, and the one rule of a cell's metric."""

import importlib.util
import inspect

import pytest

from harness.errors import ClaimsError
from harness.measure.accuracy import cells_needed
from harness.paths import CLAIMS_DIR
from harness.spec import families
from harness.spec import registry as registry_module
from harness.spec.tasks import get_task

REGISTRY = registry_module.load()


def test_the_table_covers_every_family_of_the_registry():
    assert {claim.family for claim in REGISTRY.claims} <= set(families.names())
    assert set(families.names()) <= {claim.family for claim in REGISTRY.claims}, "a family no row uses"


@pytest.mark.parametrize("name", families.names())
def test_each_entrys_dotted_names_resolve_to_callables(name):
    family = families.get(name)
    for dotted in (family.measure, family.cells, family.recompute):
        if dotted is not None:
            assert callable(families.resolve(dotted)), dotted
    if family.recompute is not None:
        assert list(inspect.signature(families.resolve(family.recompute)).parameters) == ["check", "result", "row"]
    if family.fine_tuned:  # AccuracyRunner.measure calls measure(runner, claim), cells_needed cells(claim)
        assert list(inspect.signature(families.resolve(family.measure)).parameters) == ["runner", "claim"]
        assert list(inspect.signature(families.resolve(family.cells)).parameters) == ["claim"]
    assert family.noise in families.NOISE
    assert family.fine_tuned == (family.noise == "seeds"), "the families that fine-tune are the ones with seeds"


def test_an_unknown_family_names_the_close_ones():
    with pytest.raises(ClaimsError, match="did you mean 'macro'"):
        families.get("marco")
    assert not families.is_paper_check("marco"), "read leniently: a results.json of another harness"


def test_every_family_has_exactly_one_claim_test():
    """claims/test_*.py: each family is parametrized into one test function (its @pytest.mark.claims)."""
    claimed: dict[str, list[str]] = {}
    for path in sorted(CLAIMS_DIR.glob("test_*.py")):
        module_spec = importlib.util.spec_from_file_location(f"claims_{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        for name, function in vars(module).items():
            for mark in getattr(function, "pytestmark", ()):
                if mark.name == "claims":
                    for family in mark.args:
                        claimed.setdefault(family, []).append(f"{path.name}::{name}")
    assert {family: len(tests) for family, tests in claimed.items()} == dict.fromkeys(families.names(), 1), claimed


# ---------------------------------------------------------------- what the families say of the rows


def test_the_families_that_fine_tune_list_cells_for_each_row_and_the_others_none():
    for claim in REGISTRY.claims:
        if families.get(claim.family).fine_tuned:
            cells = cells_needed(claim)
            assert cells and all(role in ("bert", "distilbert") for role, _, _ in cells), claim.id
        else:
            with pytest.raises(ClaimsError, match="is not an accuracy claim"):
                cells_needed(claim)
    assert cells_needed(REGISTRY.get("downstream.squad.em.distilbert_d")) == [("distilbert", "squad", True)]
    assert cells_needed(REGISTRY.get("downstream.imdb.gap")) == [("bert", "imdb", False), ("distilbert", "imdb", False)]
    assert len(cells_needed(REGISTRY.get("retention.without_wnli"))) == 16


def test_the_cells_of_the_papers_tables_and_the_paper_checks():
    cells = {claim.id for claim in REGISTRY.claims if families.is_cell(claim.family, claim.task, claim.metric)}
    assert "glue.cola.bert" in cells and "downstream.squad.f1.distilbert_d" in cells
    assert not cells & {"downstream.imdb.gap", "macro.bert", "retention.with_wnli", "size.bert.parameters"}
    checks = {claim.id for claim in REGISTRY.claims if families.is_paper_check(claim.family)}
    assert checks == {claim.id for claim in REGISTRY.family("paper_arithmetic")}


def test_a_cells_metric_defaults_to_its_tasks_paper_metric_in_one_place():
    assert families.cell_metric("cola") == "matthews_correlation"
    assert families.cell_metric(get_task("squad")) == "exact_match" and families.cell_metric("squad", "f1") == "f1"
    with pytest.raises(ClaimsError, match="'accuracy' fills no cell of the paper"):
        families.cell_metric("mrpc", "accuracy")
