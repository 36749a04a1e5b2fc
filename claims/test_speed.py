"""Table 3's speed: "60% faster", i.e. one pass over STS-B dev at batch size 1 on CPU takes BERT 668 s and DistilBERT 410 s.

Speed depends on the architecture, not on the weights, so both models are built from their configs
(random weights; --speed-weights pretrained times the checkpoints instead). The two are timed in one
run with their chunks interleaved (harness.timing), pytest-benchmark's pedantic mode timing every
round; the claim is the ratio of the two totals. The GPU rows (our extension) time a grid of batch
sizes and sequence lengths per dtype and skip without CUDA. Options: --speed-quick, --speed-pairs,
--speed-threads, --speed-inputs, --speed-weights (pytest --help).
"""

from __future__ import annotations

import pytest

from harness.errors import ClaimsError
from harness.judge.verdict import check
from harness.measure import speed_inputs, timing
from harness.measure.models import build, load_pretrained

QUICK_PAIRS = 150  # --speed-quick: every 10th pair, 30 chunks a model
QUICK_GRID_ROUNDS = 2
BUSY_SHARE = 0.1  # other processes' share of the CPU time during the timing above which the summary warns


@pytest.fixture(scope="session")
def speed_models(pytestconfig, architectures, checkpoints):
    """Both models on CPU in eval mode, and how each was made."""
    weights = pytestconfig.getoption("--speed-weights")
    models, made = {}, {}
    for role, architecture in architectures.items():
        try:
            model = build(architecture, device="cpu") if weights == "random" else load_pretrained(checkpoints[role], None)
        except ClaimsError as error:
            pytest.fail(f"--speed-weights pretrained: {error}", pytrace=False)
        models[role] = model.eval()
        made[role] = {"checkpoint": architecture.checkpoint, "config_source": architecture.config_source,
                      "weights": weights, "layers": architecture.layers,
                      "attention": getattr(model.config, "_attn_implementation", None)}
    return models, made


@pytest.fixture(scope="session")
def timed_pairs(pytestconfig, checkpoints, data_dir, shared_root):
    """The STS-B dev pairs to time (real or the lengths fixture, see harness.speed_inputs), subset in quick mode."""
    try:
        inputs = speed_inputs.load(pytestconfig.getoption("--speed-inputs"), checkpoints["bert"], data_dir,
                                   speed_inputs.default_vocab_candidates(shared_root))
    except ClaimsError as error:
        pytest.fail(str(error), pytrace=False)
    pairs = pytestconfig.getoption("--speed-pairs") or (QUICK_PAIRS if pytestconfig.getoption("--speed-quick") else None)
    if pairs is not None and pairs > len(inputs.encodings):
        pytest.fail(f"--speed-pairs {pairs}: STS-B dev has {len(inputs.encodings)} pairs; choose at most that", pytrace=False)
    return inputs.subset(pairs)


def _cpu_claim(request, claim, record_claim, benchmark) -> None:
    config = request.config
    models, made = request.getfixturevalue("speed_models")
    inputs = request.getfixturevalue("timed_pairs")
    benchmark.group = f"{claim.id}: rounds alternate BERT and DistilBERT chunks of {timing.CHUNK_PAIRS} pairs"
    measured = timing.time_interleaved(models, inputs.encodings, threads=config.getoption("--speed-threads"),
                                       runner=timing.benchmark_runner(benchmark))
    details = measured.to_details()
    paper = claim.params["paper_seconds"]
    pairs = len(inputs.encodings)
    full = claim.params["pairs"]
    seconds = details["seconds"]
    summary = (f"BERT {seconds['bert']:.1f} s, DistilBERT {seconds['distilbert']:.1f} s -> speedup {measured.speedup:.3f}x "
               f"(paper: {paper['bert']} s / {paper['distilbert']} s = {paper['bert'] / paper['distilbert']:.3f}x); "
               f"{pairs} pairs, batch size 1, {measured.threads} thread{'s' if measured.threads != 1 else ''}, {inputs.source} inputs")
    details.update(protocol="full" if pairs == full else "quick", pairs=pairs, paper_seconds=paper,
                   inputs=inputs.summary(), models=made, hardware=timing.hardware())
    if pairs < full:  # the seconds above are for `pairs` pairs; the paper's are for all of them
        estimate = {role: round(value * full / pairs, 1) for role, value in seconds.items()}
        details["full_pass_seconds_estimate"] = estimate
        summary += f"; quick run: a full pass would take about {estimate['bert']:.0f} s / {estimate['distilbert']:.0f} s"
    if (details.get("other_cpu_share") or 0) > BUSY_SHARE:  # other jobs shared the cores: say so beside the figures
        summary += f"; machine busy: other processes used {100 * details['other_cpu_share']:.0f}% of the CPU time meanwhile"
    details["summary"] = summary
    benchmark.extra_info.update(claim=claim.id, order=[f"{role}:{chunk}" for role, chunk in measured.order],
                                seconds=seconds, speedup=details["speedup"], inputs=inputs.description, threads=measured.threads)
    print(f"\n{claim.id}: {summary}\n  inputs: {inputs.description}\n  per-chunk speedup median "
          f"{details['chunk_speedup_median']:.3f}, quartiles {details['chunk_speedup_quartiles']}")
    check(record_claim(measured.speedup, **details))


def _gpu_claim(request, claim, record_claim, benchmark) -> None:
    config = request.config
    if request.getfixturevalue("device") != "cuda":
        import torch

        pytest.skip("needs CUDA: torch.cuda.is_available() is False" if not torch.cuda.is_available()
                    else "--device cpu was chosen; GPU speed rows run with --device auto or cuda")
    models, made = request.getfixturevalue("speed_models")
    params = claim.params
    rounds = QUICK_GRID_ROUNDS if config.getoption("--speed-quick") else params.get("rounds", timing.GRID_ROUNDS)
    benchmark.group = f"{claim.id}: rounds alternate BERT and DistilBERT, cell after cell"
    cells = timing.time_grid(models, "cuda", params["dtype"], batch_sizes=params["batch_sizes"],
                             seq_lengths=params["seq_lengths"], rounds=rounds, runner=timing.benchmark_runner(benchmark))
    measured_cells = [c for c in cells if c.speedup is not None]
    if not measured_cells:
        pytest.fail(f"{claim.id}: no cell could be measured: {[c.error for c in cells]}", pytrace=False)
    hardware = timing.hardware()
    details = {"cells": [c.to_details() for c in cells], "dtype": params["dtype"], "rounds": rounds,
               "gpu": hardware["gpus"][0]["name"] if hardware["gpus"] else "?", "models": made, "hardware": hardware}
    worst = min(measured_cells, key=lambda c: c.speedup)
    lines = [f"b{c.batch_size:<4} s{c.seq_length:<4} " + (f"speedup {c.speedup:.3f}x, BERT {c.throughput()['bert']:.1f} "
             f"seq/s, DistilBERT {c.throughput()['distilbert']:.1f} seq/s" if c.speedup else str(c.error)) for c in cells]
    details["summary"] = (f"{params['dtype']} on {details['gpu']}: smallest speedup {worst.speedup:.3f}x (batch "
                          f"{worst.batch_size}, length {worst.seq_length}) over {len(measured_cells)} cells; paper (CPU) 1.63x")
    benchmark.extra_info.update(claim=claim.id, cells=details["cells"])
    print(f"\n{claim.id}: {details['summary']}\n  " + "\n  ".join(lines))
    check(record_claim(worst.speedup, **details))


@pytest.mark.claims("speed")
def test_speed_claim(claim, record_claim, benchmark, request):
    if claim.params.get("device", "cpu") == "cpu":
        _cpu_claim(request, claim, record_claim, benchmark)
    else:
        _gpu_claim(request, claim, record_claim, benchmark)
