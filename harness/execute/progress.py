"""The progress line of a distributed run: jobs done of the total, failures, running, and an estimate of the time left.

The time left is the modelled cost still to run (harness.execute.makespan) at the pace observed so far:
elapsed x (cost left / cost done), which weighs an MNLI job more than a WNLI one; before the first job
finishes there is no pace and the line says so. It is an estimate, printed as one. Counting and wording
only: the executor decides when to call it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.measure.live import duration


@dataclass
class Progress:
    """Jobs of one run: how many, their modelled cost, what is done, failed and running."""

    total: int
    total_cost: float
    cached: int = 0  # read back from the cache before anything was submitted
    done: int = 0
    failed: int = 0
    running: int = 0
    cost_done: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def finish(self, jobs: int, cost: float, failed: bool = False) -> None:
        """Count a finished unit of work: its jobs and its modelled cost."""
        self.done += jobs
        self.failed += jobs if failed else 0
        self.cost_done += cost
        self.running -= 1

    def time_left(self, now: float | None = None) -> float | None:
        """Seconds left at the observed pace, or None before any cost is done."""
        if self.cost_done <= 0:
            return None
        elapsed = (time.monotonic() if now is None else now) - self.started
        return max(0.0, elapsed * (self.total_cost - self.cost_done) / self.cost_done)

    def line(self, now: float | None = None) -> str:
        left = self.time_left(now)
        estimate = "time left: no job finished yet" if left is None else f"about {duration(left)} left (estimate)"
        failures = f", {self.failed} failed" if self.failed else ""
        cached = f" ({self.cached} read from the cache)" if self.cached else ""
        return f"{self.done + self.cached}/{self.total + self.cached} jobs done{cached}{failures}, {self.running} queued or running; {estimate}"
