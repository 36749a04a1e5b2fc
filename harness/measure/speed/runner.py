"""What the speed claims measure (Table 3, and our GPU extension of it), from timings of both models.

The CPU row: one pass over the STS-B dev pairs at batch size 1 (all 1500, or QUICK_PAIRS evenly spaced
in a quick pass, or --speed-pairs), both models timed in one run, chunks interleaved; the measured
value is t(BERT) / t(DistilBERT), and the summary sets the seconds beside the paper's, with the full
pass estimated from a quick run and a warning when other processes used the cores meanwhile; the pass is
timed as sub-passes, the replicates of the ratio's interval (harness.judge.speed_interval). The GPU rows:
the smallest speedup over a grid of batch sizes and sequence lengths at one dtype, each cell's timed
rounds its replicates; they need CUDA (a MissingInput otherwise). A quick pass (fewer pairs than Table 3's
pass, or the quick grid's 2 rounds a cell) is `not judged`: its value and interval are reported, but over
so short a pass time-correlated noise makes the interval less certain than it looks (docs/verdicts.md).
Both models are built from their configs (random weights: speed does
not depend on them) or, with --speed-weights pretrained, loaded from their checkpoints.

`SpeedRunner.measure(claim, runner)` answers any speed row of the registry; the rounds are timed by the
runner it is given (pytest-benchmark's in the claim test, see harness.measure.speed.timing). This module
neither times rounds itself (timing), prepares inputs (speed_inputs), nor judges (harness.judge).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from harness import device as devices
from harness import environment
from harness.errors import ClaimsError, MissingInput
from harness.measure.measurement import Measurement
from harness.measure.models import Architecture, build, load_pretrained
from harness.measure.speed import inputs as speed_inputs
from harness.measure.speed import timing
from harness.measure.speed.inputs import SpeedInputs
from harness.spec.registry import Claim
from harness.spec.speed_options import QUICK_GRID_ROUNDS, WEIGHTS, SpeedOptions

BUSY_SHARE = 0.1  # other processes' share of the CPU time while timing above which the summary warns


@dataclass(frozen=True)
class SpeedMeasurement(Measurement):
    """A speed claim's measurement, with what the test prints under the summary and stores beside the rounds."""

    lines: tuple[str, ...] = ()  # printed under the summary: inputs and per-chunk spread, or one line per GPU cell
    benchmark_info: dict[str, Any] = field(default_factory=dict)  # pytest-benchmark's extra_info for the rounds


def quick_reason(details: dict[str, Any], params: dict[str, Any]) -> str | None:
    """Why a speed measurement is reported but not judged, from its recorded details and its row's params (the
    measurement and `python -m harness check` both ask): a CPU pass over fewer pairs than Table 3's, a GPU grid of
    fewer rounds a cell than the row's; None for the full pass or grid."""
    if "cells" in details:
        rounds, full = details["rounds"], params.get("rounds", timing.GRID_ROUNDS)
        return (f"quick grid: {rounds} timed rounds a cell (the full grid, pytest claims -m speed, times {full})"
                if rounds < full else None)
    pairs, full = details["pairs"], params["pairs"]
    return (f"quick pass: {pairs} of Table 3's {full} pairs (its interval is reported; the full pass, pytest claims -m "
            "speed, is judged)") if pairs < full else None


def cpu_summary(details: dict[str, Any]) -> str:
    """The CPU claim's one line, written from its recorded details alone, so that `python -m harness check` writes it
    again from results.json and names a summary that does not follow from them."""
    seconds, paper, threads = details["seconds"], details["paper_seconds"], details["threads"]
    summary = (f"BERT {seconds['bert']:.1f} s, DistilBERT {seconds['distilbert']:.1f} s -> speedup {details['speedup']:.3f}x "
               f"(paper: {paper['bert']} s / {paper['distilbert']} s = {paper['bert'] / paper['distilbert']:.3f}x); "
               f"{details['pairs']} pairs, batch size 1, {threads} thread{'s' if threads != 1 else ''}, "
               f"{details['inputs']['source']} inputs")
    estimate = details.get("full_pass_seconds_estimate")
    if estimate:
        summary += f"; quick run: a full pass would take about {estimate['bert']:.0f} s / {estimate['distilbert']:.0f} s"
    if (details.get("other_cpu_share") or 0) > BUSY_SHARE:  # other jobs shared the cores: say so beside the figures
        summary += f"; machine busy: other processes used {100 * details['other_cpu_share']:.0f}% of the CPU time meanwhile"
    return summary


def gpu_summary(details: dict[str, Any], paper_value: float) -> str:
    """A GPU row's summary line, from its recorded details alone (its grid's cells): `check` writes it again from
    results.json and names a summary that does not follow from them."""
    measured = [cell for cell in details["cells"] if cell.get("speedup")]
    worst = min(measured, key=lambda cell: cell["speedup"])
    return (f"{details['dtype']} on {details['gpu']}: smallest speedup {worst['speedup']:.3f}x (batch {worst['batch_size']}, "
            f"length {worst['seq_length']}) over {len(measured)} cells; paper (CPU) {paper_value:g}x")


def benchmark_group(claim: Claim) -> str:
    """The pytest-benchmark group of a speed row's rounds (set before they are timed: the benchmark reads it then)."""
    if _on_cpu(claim):
        return f"{claim.id}: rounds alternate BERT and DistilBERT chunks of {timing.CHUNK_PAIRS} pairs"
    return f"{claim.id}: rounds alternate BERT and DistilBERT, cell after cell"


def _on_cpu(claim: Claim) -> bool:
    return claim.params.get("device", "cpu") == "cpu"


@dataclass(frozen=True)
class SpeedRunner:
    """Builds both models and the inputs once per session, and measures any speed row with a given runner."""

    architectures: dict[str, Architecture]
    options: SpeedOptions = SpeedOptions()
    device: str = "cpu"  # the resolved --device: the GPU rows need "cuda"; the CPU row always runs on CPU
    data_dir: Path | None = None
    shared_root: Path | None = None  # ../shared, where bert-base-uncased's vocab.txt may be

    @functools.cached_property
    def models(self) -> tuple[dict[str, torch.nn.Module], dict[str, dict[str, Any]]]:
        """Both models on CPU in eval mode, and how each was made."""
        weights = self.options.weights
        if weights not in WEIGHTS:
            raise ClaimsError(f"--speed-weights {weights!r}: unknown", f"use one of {', '.join(WEIGHTS)}")
        models, made = {}, {}
        for role, architecture in self.architectures.items():
            try:
                model = build(architecture, device="cpu") if weights == "random" else load_pretrained(architecture.checkpoint, None)
            except MissingInput as error:
                raise MissingInput(f"--speed-weights pretrained: {error.what}", error.fix) from error
            models[role] = model.eval()
            made[role] = {"checkpoint": architecture.checkpoint, "config_source": architecture.config_source,
                          "weights": weights, "layers": architecture.layers,
                          "attention": getattr(model.config, "_attn_implementation", None)}
        return models, made

    @functools.cached_property
    def inputs(self) -> SpeedInputs:
        """The STS-B dev pairs to time (real, or the lengths fixture: see speed_inputs), subset in quick mode."""
        found = speed_inputs.load(self.options.inputs, self.architectures["bert"].checkpoint, self.data_dir,
                                  speed_inputs.default_vocab_candidates(self.shared_root))
        return found.subset(self.options.timed_pairs)  # more pairs than STS-B dev has: a ClaimsError naming --speed-pairs

    def measure(self, claim: Claim, runner: timing.Runner = timing.clock_runner) -> SpeedMeasurement:
        """The measured speedup of a speed row: the CPU pass, or the GPU grid's smallest cell."""
        if claim.family != "speed":
            raise ClaimsError(f"claim {claim.id}: family {claim.family!r} is not a speed claim", "run it with the test of its family")
        return self._cpu(claim, runner) if _on_cpu(claim) else self._gpu(claim, runner)

    def _cpu(self, claim: Claim, runner: timing.Runner) -> SpeedMeasurement:
        models, made = self.models
        inputs = self.inputs
        measured = timing.time_interleaved(models, inputs.encodings, threads=self.options.threads, runner=runner,
                                           sub_passes=timing.SUB_PASSES)
        details = measured.to_details()
        paper, full, pairs = claim.params["paper_seconds"], claim.params["pairs"], len(inputs.encodings)
        seconds = details["seconds"]
        details.update(protocol="full" if pairs == full else "quick", pairs=pairs, paper_seconds=paper,
                       inputs=inputs.summary(), models=made, hardware=environment.hardware())
        if pairs < full:  # the seconds are for `pairs` pairs; the paper's are for all of them
            details["full_pass_seconds_estimate"] = {role: round(value * full / pairs, 1) for role, value in seconds.items()}
        summary = cpu_summary(details)
        lines = (f"inputs: {inputs.description}", f"per-chunk speedup median {details['chunk_speedup_median']:.3f}, "
                 f"quartiles {details['chunk_speedup_quartiles']}")
        info = {"claim": claim.id, "order": [f"{role}:{chunk}" for role, chunk in measured.order], "seconds": seconds,
                "speedup": details["speedup"], "inputs": inputs.description, "threads": measured.threads}
        return SpeedMeasurement(measured.speedup, details, summary, not_judged=quick_reason(details, claim.params), lines=lines,
                                benchmark_info=info)

    def _gpu(self, claim: Claim, runner: timing.Runner) -> SpeedMeasurement:
        missing = devices.cuda_missing(self.device)
        if missing:
            raise MissingInput(missing)
        params = claim.params
        models, made = self.models
        rounds = QUICK_GRID_ROUNDS if self.options.quick else params.get("rounds", timing.GRID_ROUNDS)
        cells = timing.time_grid(models, self.device, params["dtype"], batch_sizes=params["batch_sizes"],
                                 seq_lengths=params["seq_lengths"], rounds=rounds, runner=runner)
        measured = [c for c in cells if c.speedup is not None]
        if not measured:
            raise ClaimsError(f"{claim.id}: no cell could be measured: {[c.error for c in cells]}",
                              "run on a GPU with more memory, or give the row smaller batch_sizes / seq_lengths")
        hardware = environment.hardware()
        details = {"cells": [c.to_details() for c in cells], "dtype": params["dtype"], "rounds": rounds,
                   "gpu": hardware["gpus"][0]["name"] if hardware["gpus"] else "?", "models": made, "hardware": hardware}
        worst = min(measured, key=lambda c: c.speedup)
        summary = gpu_summary(details, claim.paper_value)
        lines = tuple(f"b{c.batch_size:<4} s{c.seq_length:<4} " + (
            f"speedup {c.speedup:.3f}x, BERT {c.throughput()['bert']:.1f} seq/s, DistilBERT "
            f"{c.throughput()['distilbert']:.1f} seq/s" if c.speedup else str(c.error)) for c in cells)
        return SpeedMeasurement(worst.speedup, details, summary, not_judged=quick_reason(details, params), lines=lines,
                                benchmark_info={"claim": claim.id, "cells": details["cells"]})
