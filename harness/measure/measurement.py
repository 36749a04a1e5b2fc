"""What every claim family's measurement returns to its claim test: the value, the details behind it, a summary.

The size, speed and accuracy runners (harness.measure.size, .speed, .accuracy) each answer a claim with
a Measurement; the claim test records it (harness.plugin) and the judge compares it with the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    """A claim's measured value, the details behind it (per-seed values, timings, counts) and a one-line summary."""

    value: float
    details: dict[str, Any]
    summary: str
