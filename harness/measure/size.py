"""What the size claims measure (Table 3): each model's parameters in millions, and how many fewer DistilBERT has.

A size row's metric says what it measures: `parameters_millions` is its model's bare encoder
(harness.measure.models.size_summary counts it exactly on the architecture built from the config, no
weights needed), `percent_fewer_parameters` is 100 * (1 - DistilBERT / BERT) over the two encoders.
Every measurement carries both models' counts (with head counts and fp32 sizes) as its details. This
module neither builds configs (models) nor judges (harness.judge).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import ClaimsError
from harness.measure.measurement import Measurement
from harness.measure.models import Architecture, size_summary
from harness.spec.registry import Claim

METRICS = ("parameters_millions", "percent_fewer_parameters")


def sizes(architectures: Mapping[str, Architecture]) -> dict[str, dict[str, Any]]:
    """Exact parameter counts and fp32 sizes of each role's architecture."""
    return {role: size_summary(architecture) for role, architecture in architectures.items()}


def measure(claim: Claim, counted: Mapping[str, Mapping[str, Any]]) -> Measurement:
    """The measured value of a size row, from both models' counts (`sizes`), by the row's metric."""
    if claim.metric not in METRICS:
        raise ClaimsError(f"claim {claim.id}: metric {claim.metric!r} is not a size metric", f"use one of {', '.join(METRICS)}")
    details = {"bert": dict(counted["bert"]), "distilbert": dict(counted["distilbert"])}
    if claim.metric == "parameters_millions":
        size = counted[claim.model]
        summary = (f"{size['checkpoint']}: {size['encoder_parameters']:,} parameters (bare encoder, {size['layers']} layers); "
                   f"with a 2-label classification head {size['sequence_classification_2_labels_parameters']:,}; "
                   f"fp32 weights {size['fp32_megabytes']} MB ({size['fp32_mebibytes']} MiB); config: {size['config_source']}")
        return Measurement(size["encoder_parameters"] / 1e6, details, summary)
    bert, distilbert = counted["bert"]["encoder_parameters"], counted["distilbert"]["encoder_parameters"]
    fewer = 100 * (1 - distilbert / bert)  # percent_fewer_parameters
    summary = f"{distilbert:,} / {bert:,} = {100 * distilbert / bert:.1f}%: DistilBERT has {fewer:.1f}% fewer parameters"
    return Measurement(fewer, details, summary)
