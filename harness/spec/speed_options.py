"""The speed claims' options as data: which inputs and weights they may time, and what a quick run times.

Read by the pytest options (their choices and help, harness.plugin.options) and by the speed
measurement (harness.measure.speed.runner, harness.measure.speed.inputs), so each value has one home. This
module imports no torch, so `pytest --help` stays fast; it measures nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

PASSES = ("auto", "quick", "full")  # --speed-pass: auto = full when the run asks for the speed claims, else quick
INPUT_SOURCES = ("auto", "stsb", "fixture")  # --speed-inputs: the real STS-B pairs, the lengths fixture, or auto
WEIGHTS = ("random", "pretrained")  # --speed-weights: built from the configs, or the checkpoints' trained weights
STSB_DEV_PAIRS = 1500  # Table 3 times one pass over the STS-B dev set
QUICK_PAIRS = 150  # a quick pass: every 10th pair of the 1500, 30 chunks of 5 a model
QUICK_GRID_ROUNDS = 2  # a quick pass: timed rounds per model per GPU cell


@dataclass(frozen=True)
class SpeedOptions:
    """The speed claims' options (--speed-pass resolved to quick or not, --speed-pairs, --speed-threads,
    --speed-inputs, --speed-weights)."""

    quick: bool = False
    pairs: int | None = None  # None: all pairs (QUICK_PAIRS with quick)
    threads: int | None = None  # None: os.cpu_count()
    inputs: str = "auto"  # one of INPUT_SOURCES
    weights: str = "random"  # one of WEIGHTS

    @property
    def timed_pairs(self) -> int | None:
        """How many STS-B dev pairs the CPU row times (None: all of them)."""
        return self.pairs or (QUICK_PAIRS if self.quick else None)


def quick_pass(choice: str, speed_asked_for: bool) -> bool:
    """Whether --speed-pass times the quick pass: `auto` times Table 3's full pass when the run asks for the speed
    claims themselves (`-m speed`, claims/test_speed.py) and the quick one inside a run of the whole suite."""
    if choice not in PASSES:
        raise ValueError(f"--speed-pass {choice!r}: expected one of {', '.join(PASSES)}")
    return choice == "quick" or (choice == "auto" and not speed_asked_for)
