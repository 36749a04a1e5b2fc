"""Time BERT and DistilBERT over the same inputs, interleaved, and take the ratio measured in that one run.

The protocol (docs/speed.md gives the reasons):
  - models in eval() under torch.inference_mode(); inputs tokenized and placed before any clock runs;
  - on CPU a fixed number of threads (torch.set_num_threads, default os.cpu_count(), recorded) and
    denormals flushed, so that neither the machine's default nor the weights' values change the speed;
  - untimed warm-up passes of both models before the first timed round;
  - the inputs cut into chunks, and the two models' chunks interleaved A B, B A, A B, ... (each chunk
    timed for both models, in alternating order) so that drift of a shared machine hits both alike and
    a linear drift cancels; speedup = total time of BERT / total time of DistilBERT;
  - on CPU the pass timed as SUB_PASSES sub-passes one after another, sub-pass b over pairs b, b + B,
    b + 2B, ... (the same mix of lengths in each): their ratios are the replicates of the ratio's interval
    (harness.judge.speed_interval);
  - on a GPU, synchronize before a round starts and before its clock stops; one grid cell per batch
    size, sequence length and dtype (time_grid).

Rounds are run by a runner: `clock_runner` (time.perf_counter) here, or pytest-benchmark's pedantic
mode in the claim tests (see `benchmark_runner`), which then holds every round's time in its JSON.
This module measures; it neither loads models, prepares inputs (harness.measure.speed.inputs), nor
turns timings into a claim's measurement (harness.measure.speed.runner) or judges it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from harness.measure import live
from harness.measure.models import accepted_inputs
from harness.measure.speed.inputs import fixed_length_batch

ROLES = ("bert", "distilbert")
CHUNK_PAIRS = 5  # pairs per timed round on CPU: 1500 pairs -> 300 rounds per model, each 0.15-0.5 s here
SUB_PASSES = 10  # a CPU pass as 10 sub-passes of 150 pairs (30 chunks) each: the replicates of its interval
WARMUP_PAIRS = 20  # untimed passes per model before the first timed round


@dataclass(frozen=True)
class Round:
    """One timed unit: `run` (timed) executes one model over one chunk; `prepare` (untimed) runs before it."""

    role: str
    chunk: int
    run: Callable[[], None]
    prepare: Callable[[], None] | None = None


Runner = Callable[[Sequence[Round]], list[float]]


def clock_runner(rounds: Sequence[Round]) -> list[float]:
    """Run the rounds in order with time.perf_counter around each `run`; their durations in seconds."""
    durations = []
    for one in rounds:
        if one.prepare is not None:
            one.prepare()
        start = time.perf_counter()
        one.run()
        durations.append(time.perf_counter() - start)
    return durations


def benchmark_runner(benchmark: Any) -> Runner:
    """A runner that times the rounds with pytest-benchmark's pedantic mode: one benchmark round per round, then each
    model's rounds made its own benchmark (per_model_benchmarks)."""

    def run(rounds: Sequence[Round]) -> list[float]:
        if getattr(benchmark, "disabled", False):  # --benchmark-disable, or xdist: time the rounds ourselves
            return clock_runner(rounds)
        pending = iter(rounds)

        def setup() -> tuple[tuple[Round], dict[str, Any]]:
            one = next(pending)
            if one.prepare is not None:
                one.prepare()
            return (one,), {}

        benchmark.pedantic(lambda one: one.run(), setup=setup, rounds=len(rounds), iterations=1, warmup_rounds=0)
        durations = list(benchmark.stats.stats.data)
        per_model_benchmarks(benchmark, [one.role for one in rounds], durations)
        return durations

    return run


def per_model_benchmarks(benchmark: Any, roles: Sequence[str], durations: Sequence[float]) -> None:
    """Split the one benchmark pedantic mode recorded (both models' rounds, interleaved) into one benchmark per model.

    Each keeps its model's rounds in their timed order, in the claim's group, named as a parameter of the test
    (`test_speed_claim[speed.cpu.stsb_speedup-bert]`, params {"model": "bert"}): pytest-benchmark's min, mean and
    histogram then describe one model, and `pytest-benchmark compare` and --benchmark-compare match each model's
    benchmark across runs by that name. The first model's benchmark is the one pedantic made; the others are added to
    the session's list of benchmarks as pytest-benchmark adds its own (the fixture's `_add_stats`).
    """
    from pytest_benchmark.stats import Metadata, Stats

    blended = benchmark.stats
    for index, role in enumerate(dict.fromkeys(roles)):
        metadata = blended if index == 0 else Metadata(benchmark, iterations=1, options=blended.options)
        metadata.stats = Stats()
        for one, duration in zip(roles, durations, strict=True):
            if one == role:
                metadata.stats.update(duration)
        metadata.param = f"{benchmark.param}-{role}" if benchmark.param else role
        metadata.params = {**{name: getattr(value, "id", value) for name, value in (benchmark.params or {}).items()},
                           "model": role}  # a Claim parameter as its id: JSON, not the whole row
        for name in ("name", "fullname"):
            base = getattr(benchmark, name)
            setattr(metadata, name, f"{base[:-1]}-{role}]" if base.endswith("]") else f"{base}[{role}]")
        if index:
            benchmark._add_stats(metadata)


def announced(rounds: Sequence[Round], what: str = "speed", chunks: bool = True) -> tuple[Round, ...]:
    """The rounds, each saying `what: round i/n (role, chunk c/k)` as its untimed preparation starts
    (harness.measure.live: nothing unless this process has a listener; the first and last rounds are kept in a log)."""
    if not live.active():
        return tuple(rounds)
    total, chunk_count = len(rounds), max((one.chunk for one in rounds), default=0) + 1
    started: list[float] = []  # when the first timed round began (after the warm-up)

    def prepare(index: int, one: Round) -> Callable[[], None]:
        def run() -> None:
            where = f" ({one.role}, chunk {one.chunk + 1}/{chunk_count})" if chunks else f" ({one.role})"
            left = (f", about {live.duration((time.perf_counter() - started[0]) / (index - 1) * (total - index + 1))} left"
                    if started and index > 1 else "")
            live.status(f"{what}: round {index}/{total}{where}{left}", milestone=index in (1, total))
            if one.prepare is not None:
                one.prepare()
            if not started:
                started.append(time.perf_counter())
        return run

    return tuple(dataclasses.replace(one, prepare=prepare(index, one)) for index, one in enumerate(rounds, 1))


def split_chunks(count: int, chunk_size: int) -> list[range]:
    """range(count) cut into consecutive chunks of chunk_size (the last may be shorter)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    return [range(start, min(start + chunk_size, count)) for start in range(0, count, chunk_size)]


def sub_pass_chunks(count: int, chunk_size: int, sub_passes: int) -> tuple[list[list[int]], list[int]]:
    """range(count) as sub-passes (sub-pass b: items b, b + B, b + 2B, ...; B at most the chunks there would be), each
    cut into chunks of chunk_size: the chunks in timed order, and the sub-pass of each."""
    groups = max(1, min(sub_passes, len(split_chunks(count, chunk_size))))
    chunks, owner = [], []
    for group in range(groups):
        items = list(range(group, count, groups))
        for piece in split_chunks(len(items), chunk_size):
            chunks.append([items[i] for i in piece])
            owner.append(group)
    return chunks, owner


def interleave(chunks: int, roles: Sequence[str] = ROLES) -> list[tuple[str, int]]:
    """(role, chunk) in the timed order: every chunk for every role, the roles' order reversed on odd chunks."""
    order = []
    for chunk in range(chunks):
        order += [(role, chunk) for role in (roles if chunk % 2 == 0 else tuple(reversed(roles)))]
    return order


def model_inputs(model: torch.nn.Module, encoding: Mapping[str, torch.Tensor], device: str) -> dict[str, torch.Tensor]:
    """The tensors of one encoding that the model's forward accepts (DistilBERT takes no token_type_ids), on device."""
    accepted = accepted_inputs(model)
    return {key: value.to(device) for key, value in encoding.items() if key in accepted}


def synchronize(device: str) -> None:
    """Wait for the device's queued work (a no-op on CPU): clocks are read only on an idle device."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def cpu_threads(threads: int | None) -> Iterator[int]:
    """Fix torch's intra-op threads (None: os.cpu_count()) and flush denormals; both restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    flushed = torch.set_flush_denormal(True)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
        if flushed:
            torch.set_flush_denormal(False)


@dataclass(frozen=True)
class InterleavedTiming:
    """Every round's role, chunk and duration, and the settings they were measured under."""

    order: tuple[tuple[str, int], ...]
    durations: tuple[float, ...]
    chunk_items: tuple[int, ...]  # inputs (pairs, or batches) per chunk
    device: str
    threads: int | None
    warmup_items: int
    settings: dict[str, Any] = field(default_factory=dict)
    sub_passes: tuple[int, ...] = ()  # the sub-pass of each chunk (empty: one chunk, one replicate)

    def chunk_seconds(self, role: str) -> list[float]:
        times = {chunk: d for (r, chunk), d in zip(self.order, self.durations, strict=True) if r == role}
        return [times[chunk] for chunk in sorted(times)]

    @property
    def seconds(self) -> dict[str, float]:
        roles = dict.fromkeys(r for r, _ in self.order)
        return {role: math.fsum(self.chunk_seconds(role)) for role in roles}

    @property
    def speedup(self) -> float:
        """t(BERT) / t(DistilBERT) over the whole pass."""
        return self.seconds["bert"] / self.seconds["distilbert"]

    @property
    def chunk_speedups(self) -> list[float]:
        return [b / d for b, d in zip(self.chunk_seconds("bert"), self.chunk_seconds("distilbert"), strict=True)]

    def to_details(self) -> dict[str, Any]:
        """JSON-ready: totals, speedup, the spread of per-chunk speedups and the settings."""
        chunks = self.chunk_speedups
        quartiles = statistics.quantiles(chunks, n=4) if len(chunks) > 1 else [chunks[0]] * 3
        return {
            "seconds": {role: round(value, 4) for role, value in self.seconds.items()},
            "speedup": round(self.speedup, 4),
            "chunk_speedup_median": round(statistics.median(chunks), 4),
            "chunk_speedup_quartiles": [round(q, 4) for q in (quartiles[0], quartiles[2])],
            "chunks": len(self.chunk_items),
            "chunk_items": list(self.chunk_items),
            "chunk_seconds": {role: [round(v, 9) for v in self.chunk_seconds(role)] for role in self.seconds},  # ns: check recomputes the ratio from them
            "sub_pass_of_chunk": list(self.sub_passes) or list(range(len(self.chunk_items))),
            "device": self.device,
            "threads": self.threads,
            "warmup_items": self.warmup_items,
            "interleaving": "chunks alternate A B, B A, ... (each chunk timed for both models)",
            **self.settings,
        }


@dataclass(frozen=True)
class Plan:
    """The rounds of one interleaved measurement, before they run."""

    rounds: tuple[Round, ...]
    chunk_items: tuple[int, ...]
    warmup_items: int
    device: str
    sub_passes: tuple[int, ...] = ()

    def result(self, durations: Sequence[float], threads: int | None, **settings: Any) -> InterleavedTiming:
        if len(durations) != len(self.rounds):
            raise RuntimeError(f"the runner returned {len(durations)} durations for {len(self.rounds)} rounds")
        order = tuple((r.role, r.chunk) for r in self.rounds)
        return InterleavedTiming(order, tuple(durations), self.chunk_items, self.device, threads, self.warmup_items, settings,
                                 self.sub_passes)


def plan_interleaved(models: Mapping[str, torch.nn.Module], encodings: Sequence[Mapping[str, torch.Tensor]], *,
                     chunk_size: int = CHUNK_PAIRS, warmup: int = WARMUP_PAIRS, device: str = "cpu",
                     sub_passes: int = 1) -> Plan:
    """The rounds that time each model over the encodings (one forward pass each), chunks interleaved, in sub-passes."""
    if not encodings:
        raise ValueError("no inputs to time")
    for model in models.values():
        model.eval()
    inputs = {role: [model_inputs(model, e, device) for e in encodings] for role, model in models.items()}
    chunks, owner = sub_pass_chunks(len(encodings), chunk_size, sub_passes)

    def forward(role: str, items: Sequence[int]) -> None:
        model, batch = models[role], inputs[role]
        for index in items:
            model(**batch[index])
        synchronize(device)

    def warm_up() -> None:
        for index in range(min(warmup, len(encodings))):
            for role in models:
                forward(role, (index,))

    order = interleave(len(chunks), tuple(models))
    rounds = tuple(Round(role, chunk, lambda role=role, chunk=chunk: forward(role, chunks[chunk]),
                         prepare=warm_up if i == 0 else None) for i, (role, chunk) in enumerate(order))
    return Plan(rounds, tuple(len(c) for c in chunks), min(warmup, len(encodings)), device, tuple(owner))


def time_interleaved(models: Mapping[str, torch.nn.Module], encodings: Sequence[Mapping[str, torch.Tensor]], *,
                     chunk_size: int = CHUNK_PAIRS, warmup: int = WARMUP_PAIRS, threads: int | None = None,
                     device: str = "cpu", runner: Runner = clock_runner, sub_passes: int = 1) -> InterleavedTiming:
    """Time each model over the encodings, interleaved (see the module docstring); threads apply on CPU."""
    plan = plan_interleaved(models, encodings, chunk_size=chunk_size, warmup=warmup, device=device, sub_passes=sub_passes)
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode())
        used_threads = stack.enter_context(cpu_threads(threads)) if torch.device(device).type == "cpu" else None
        others = stack.enter_context(other_cpu_use())
        durations = runner(announced(plan.rounds))
    return plan.result(durations, used_threads, chunk_size=chunk_size, **others)


def _machine_busy_seconds() -> float | None:
    """CPU seconds every process (and the hypervisor's steal) used since boot, from /proc/stat; None off Linux."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def other_cpu_use() -> Iterator[dict[str, Any]]:
    """Fill a dict with the share of the machine's CPU time that other processes used meanwhile (0 = quiet)."""
    found: dict[str, Any] = {}
    busy, own, start = _machine_busy_seconds(), sum(os.times()[:2]), time.perf_counter()
    yield found
    after = _machine_busy_seconds()
    if busy is None or after is None:
        found["other_cpu_share"] = None
        return
    capacity = (time.perf_counter() - start) * (os.cpu_count() or 1)
    others = (after - busy) - (sum(os.times()[:2]) - own)
    found["other_cpu_share"] = round(min(max(others / capacity, 0.0), 1.0), 3) if capacity > 0 else None


# The GPU grid: every batch size x sequence length for one dtype, each cell interleaved like the CPU pass.
BATCH_SIZES = (1, 8, 32, 128)
SEQ_LENGTHS = (128, 512)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
GRID_ROUNDS = 5  # timed rounds per model per cell
SEQUENCES_PER_ROUND = 128  # forward passes per round = max(1, 128 // batch size): 128 sequences per round


@dataclass(frozen=True)
class GridCell:
    """One cell of the grid: its timing, or why it could not be measured (e.g. out of memory)."""

    dtype: str
    batch_size: int
    seq_length: int
    timing: InterleavedTiming | None = None
    error: str | None = None

    @property
    def speedup(self) -> float | None:
        return None if self.timing is None else self.timing.speedup

    def throughput(self) -> dict[str, float]:
        """Sequences per second of each model."""
        if self.timing is None:
            return {}
        sequences = self.batch_size * sum(self.timing.chunk_items)
        return {role: sequences / seconds for role, seconds in self.timing.seconds.items()}

    def to_details(self) -> dict[str, Any]:
        cell: dict[str, Any] = {"dtype": self.dtype, "batch_size": self.batch_size, "seq_length": self.seq_length}
        if self.timing is None:
            return {**cell, "error": self.error}
        return {**cell, "speedup": round(self.timing.speedup, 4),
                "seconds": {role: round(v, 5) for role, v in self.timing.seconds.items()},
                "round_seconds": {role: [round(v, 6) for v in self.timing.chunk_seconds(role)] for role in self.timing.seconds},
                "sequences_per_second": {role: round(v, 2) for role, v in self.throughput().items()},
                "rounds_per_model": len(self.timing.chunk_items), "forward_passes_per_round": self.timing.chunk_items[0]}


def time_grid(models: Mapping[str, torch.nn.Module], device: str, dtype: str, *, batch_sizes: Sequence[int] = BATCH_SIZES,
              seq_lengths: Sequence[int] = SEQ_LENGTHS, rounds: int = GRID_ROUNDS,
              sequences_per_round: int = SEQUENCES_PER_ROUND, runner: Runner = clock_runner) -> list[GridCell]:
    """Time both models in every (batch size, sequence length) cell at one dtype; all cells' rounds in one runner call."""
    import copy

    cast = {role: copy.deepcopy(model).to(device=device, dtype=DTYPES[dtype]).eval() for role, model in models.items()}
    cells: list[GridCell] = []
    plans: list[tuple[tuple[int, int], Plan]] = []
    with torch.inference_mode():
        for seq_length in seq_lengths:
            for batch_size in batch_sizes:
                batch = {k: v.to(device) for k, v in fixed_length_batch(batch_size, seq_length).items()}
                try:  # one pass each first: a cell that does not fit in memory is reported, not fatal
                    for model in cast.values():
                        model(**model_inputs(model, batch, device))
                    synchronize(device)
                except torch.OutOfMemoryError as error:
                    cells.append(GridCell(dtype, batch_size, seq_length, error=f"out of memory: {str(error)[:160]}"))
                    torch.cuda.empty_cache()
                    continue
                iterations = max(1, sequences_per_round // batch_size)
                plans.append(((batch_size, seq_length), plan_interleaved(
                    cast, [batch] * (iterations * rounds), chunk_size=iterations, warmup=iterations, device=device)))
        durations = runner(announced([one for _, plan in plans for one in plan.rounds], f"speed ({dtype} grid)", chunks=False))
    start = 0
    for (batch_size, seq_length), plan in plans:
        timing = plan.result(durations[start:start + len(plan.rounds)], None, dtype=dtype)
        cells.append(GridCell(dtype, batch_size, seq_length, timing))
        start += len(plan.rounds)
    del cast
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
    return sorted(cells, key=lambda c: (c.seq_length, c.batch_size))
