"""A cell's dev-set statistics (its bootstrap over the examples, McNemar's test of each seed pair) are computed once a
process, however many claims read the cell (harness.judge.uncertainty), and are the ones a fresh computation gives."""

import numpy as np

from harness.judge import significance, uncertainty
from harness.measure.finetune.predictions import SplitPredictions
from harness.measure.measurement import Cell, Combination, Measurement, SeedRun
from harness.spec import registry as registry_module

REGISTRY = registry_module.load()


def cell(role: str, accuracy: float, gold: np.ndarray, rng: np.random.Generator) -> Cell:
    """A model's SST-2 cell over three seeds, each right on about `accuracy` of the examples."""
    predictions = tuple(SplitPredictions(list(range(gold.size)), gold.tolist(),
                                         np.where(rng.random(gold.size) < accuracy, gold, 1 - gold).tolist()) for _ in range(3))
    return Cell(role, "sst2", "accuracy", (90.0, 91.0, 92.0), tuple(SeedRun(42 + i, True) for i in range(3)), predictions)


def test_each_cells_bootstrap_and_mcnemar_are_computed_once_however_many_claims_read_it(monkeypatch):
    """A GLUE cell is read by its row, its model's macro score and both retentions."""
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 2, 300)
    bert, distilbert = cell("bert", 0.92, gold, rng), cell("distilbert", 0.9, gold, rng)
    readers = [("glue.sst2.bert", Measurement(91.0, {}, "", (bert,))),
               ("glue.sst2.distilbert", Measurement(91.0, {}, "", (distilbert,))),
               ("macro.bert", Measurement(91.0, {}, "", (bert,), Combination("mean", ((0,),)))),
               *[(claim_id, Measurement(100.0, {}, "", (bert, distilbert), Combination("ratio", ((1,), (0,)))))
                 for claim_id in ("retention.with_wnli", "retention.without_wnli")]]

    def assessed(forget: bool = False) -> list:
        found = []
        for claim_id, measurement in readers:
            if forget:
                uncertainty._MEMO.clear()
            found.append(uncertainty.assess(REGISTRY.get(claim_id), measurement, REGISTRY))
        return found

    monkeypatch.setattr(uncertainty, "_MEMO", {})
    fresh = assessed(forget=True)
    calls = {"replicates": 0, "mcnemar": 0}
    for name in calls:
        original = getattr(significance, name)

        def counted(*args, name=name, original=original, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(significance, name, counted)
    monkeypatch.setattr(uncertainty, "_MEMO", {})
    assert assessed() == fresh, "memoised statistics are the ones computed afresh"
    assert calls == {"replicates": 2, "mcnemar": 3}, "each cell once (its own row), each seed pair once"


def test_the_memo_is_bounded_and_keeps_what_its_keys_name_alive(monkeypatch):
    monkeypatch.setattr(uncertainty, "_MEMO", {})
    monkeypatch.setattr(uncertainty, "MEMO_LIMIT", 2)
    rng = np.random.default_rng(4)
    gold = rng.integers(0, 2, 50)
    for accuracy in (0.6, 0.7, 0.8):
        found = uncertainty.assess(REGISTRY.get("glue.sst2.bert"), Measurement(91.0, {}, "", (cell("bert", accuracy, gold, rng),)),
                                   REGISTRY)
        assert "sd" in found.dev_set
    assert len(uncertainty._MEMO) == 2
    assert all(isinstance(prediction, SplitPredictions) for kept, _ in uncertainty._MEMO.values() for prediction in kept)
