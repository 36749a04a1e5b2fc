"""Table 3's sizes: BERT-base 110M and DistilBERT 66M parameters, 40% fewer.

Counted exactly on the architectures built from each checkpoint's config (no weights needed), so these
claims hold or fail the same on any machine, offline.
"""

import pytest

from harness.judge.verdict import check
from harness.measure.models import size_summary


@pytest.fixture(scope="session")
def sizes(architectures):
    """Exact parameter counts and fp32 sizes of both architectures."""
    return {role: size_summary(architecture) for role, architecture in architectures.items()}


@pytest.mark.claims("size")
def test_size_claim(claim, record_claim, sizes):
    bert, distilbert = sizes["bert"]["encoder_parameters"], sizes["distilbert"]["encoder_parameters"]
    if claim.params["measure"] == "encoder_parameters":
        size = sizes[claim.model]
        measured = size["encoder_parameters"] / 1e6
        summary = (f"{size['checkpoint']}: {size['encoder_parameters']:,} parameters (bare encoder, {size['layers']} layers); "
                   f"with a 2-label classification head {size['sequence_classification_2_labels_parameters']:,}; "
                   f"fp32 weights {size['fp32_megabytes']} MB ({size['fp32_mebibytes']} MiB); config: {size['config_source']}")
    else:  # percent_fewer_parameters
        measured = 100 * (1 - distilbert / bert)
        summary = f"{distilbert:,} / {bert:,} = {100 * distilbert / bert:.1f}%: DistilBERT has {measured:.1f}% fewer parameters"
    print(f"{claim.id}: {summary}")
    check(record_claim(measured, summary=summary, bert=sizes["bert"], distilbert=sizes["distilbert"]))
