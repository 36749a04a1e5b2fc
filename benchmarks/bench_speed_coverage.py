"""Do speed passes fall inside each other's intervals? N quick and M full CPU passes, each its own pytest run.

Each pass is the claim itself (`python -m pytest claims/ -m speed --speed-pass quick|full` in a fresh process, its own
report directory); its speedup and chunk times are read back from results.json and its interval recomputed from
them by harness.judge.speed_interval (the sub-passes' spread and the run-to-run floor). Printed, over every ordered
pair of passes (i, j), i != j, by kind (quick in quick, full in full, quick in full, full in quick):
  - inside: how often pass j's speedup lies inside pass i's 95% interval. Two passes that are both noisy differ by
    sqrt(2) times one's error, so about 83% is what honest intervals of equal width give (more when i is wider);
  - consistent: how often |log x_i - log x_j| <= sqrt(h_i^2 + h_j^2) on the log scale (h: each interval's half-width):
    at least 95% for honest intervals.
For each pass also the lag-1 autocorrelation of its chunks' log ratios (time-correlated chunk noise is what made
the old i.i.d. bootstrap too narrow), and the share of the CPU time other processes used while it timed. Run it on
a quiet machine: a report, not an assertion (exit status 0 unless a run broke).

    python benchmarks/bench_speed_coverage.py                     # 10 quick passes, 2 full passes (about 15 minutes here)
    python benchmarks/bench_speed_coverage.py --quick 10 --full 0
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from harness.judge import speed_interval  # noqa: E402 - the project root first, for a run from anywhere

CLAIM = "speed.cpu.stsb_speedup"


def one_pass(kind: str, report_dir: Path) -> dict:
    """One `pytest claims/ -m speed --speed-pass KIND`; the CPU claim's speedup, interval and chunk statistics."""
    command = [sys.executable, "-m", "pytest", "claims/", "-m", "speed", "-q", "-p", "no:cacheprovider",
               "--speed-pass", kind, "--report-dir", str(report_dir)]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    results = report_dir / "results.json"
    if not results.is_file():
        raise RuntimeError(f"no {results} (exit {completed.returncode}):\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    (claim,) = [c for c in json.loads(results.read_text())["claims"] if c["id"] == CLAIM]
    details = claim["details"]
    bert, distilbert = details["chunk_seconds"]["bert"], details["chunk_seconds"]["distilbert"]
    found = speed_interval.ratio_interval(bert, distilbert, details.get("sub_pass_of_chunk"))
    logs = np.log(np.asarray(bert) / np.asarray(distilbert))
    lag1 = float(np.corrcoef(logs[:-1], logs[1:])[0, 1]) if logs.size > 2 else math.nan
    return {"kind": kind, "speedup": found.ratio, "interval": [found.low, found.high], "groups": found.groups,
            "verdict": claim["verdict"], "lag1_autocorrelation": lag1, "other_cpu_share": details.get("other_cpu_share"),
            "report_dir": str(report_dir)}


def agreement(passes: list[dict]) -> dict[str, dict[str, float]]:
    """Per pair kind: the share of ordered pairs where j lies inside i's interval, and where the two are consistent."""
    found: dict[str, list[tuple[bool, bool]]] = {}
    for i, j in itertools.permutations(range(len(passes)), 2):
        first, second = passes[i], passes[j]
        low, high = first["interval"]
        half_i = (math.log(high) - math.log(low)) / 2
        half_j = (math.log(second["interval"][1]) - math.log(second["interval"][0])) / 2
        inside = low <= second["speedup"] <= high
        consistent = abs(math.log(first["speedup"] / second["speedup"])) <= math.hypot(half_i, half_j)
        found.setdefault(f"{second['kind']} in {first['kind']}", []).append((inside, consistent))
    return {kind: {"pairs": len(pairs), "inside": sum(a for a, _ in pairs) / len(pairs),
                   "consistent": sum(b for _, b in pairs) / len(pairs)} for kind, pairs in found.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", type=int, default=10, help="quick passes (150 pairs). Default: %(default)r")
    parser.add_argument("--full", type=int, default=2, help="full passes (1500 pairs). Default: %(default)r")
    parser.add_argument("--reports", type=Path, default=None,
                        help="where the passes' report directories go. Default: reports/speed-coverage-<UTC time>/")
    parser.add_argument("--output", type=Path, default=None, help="also write everything as JSON here. Default: none")
    args = parser.parse_args(argv)
    reports = args.reports or ROOT / "reports" / time.strftime("speed-coverage-%Y%m%dT%H%M%SZ", time.gmtime())
    passes = []
    for index, kind in enumerate(["quick"] * args.quick + ["full"] * args.full):
        found = one_pass(kind, reports / f"{kind}{index + 1}")
        passes.append(found)
        share = found["other_cpu_share"]
        print(f"{kind} pass {index + 1}: speedup {found['speedup']:.4f} [{found['interval'][0]:.4f}, {found['interval'][1]:.4f}] "
              f"from {found['groups']} sub-passes; lag-1 autocorrelation of the chunks' log ratios "
              f"{found['lag1_autocorrelation']:.2f}; other processes {('unknown' if share is None else f'{100 * share:.0f}%')} "
              f"of the CPU time; verdict {found['verdict']}", flush=True)
    summary = agreement(passes)
    for kind, rates in sorted(summary.items()):
        print(f"{kind}: {rates['pairs']} ordered pairs; inside the other's 95% interval {100 * rates['inside']:.0f}% "
              f"(honest intervals of equal width: about 83%); consistent {100 * rates['consistent']:.0f}% (honest: >= 95%)")
    if args.output:
        args.output.write_text(json.dumps({"passes": passes, "agreement": summary}, indent=2) + "\n")
    print(f"report directories: {reports}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
