"""Table 3's sizes: BERT-base 110M and DistilBERT 66M parameters, 40% fewer.

Counted exactly on the architectures built from each checkpoint's config (no weights needed), so these
claims hold or fail the same on any machine, offline.
"""

import pytest

from harness.models import size_summary
from harness.verdict import check


@pytest.fixture(scope="session")
def sizes(architectures):
    """Exact parameter counts and fp32 sizes of both architectures."""
    return {role: size_summary(architecture) for role, architecture in architectures.items()}


@pytest.mark.claims("size")
def test_size_claim(claim, record_claim, sizes):
    bert, distilbert = sizes["bert"]["encoder_parameters"], sizes["distilbert"]["encoder_parameters"]
    if claim.params["measure"] == "encoder_parameters":
        measured = sizes[claim.model]["encoder_parameters"] / 1e6
    else:  # percent_fewer_parameters
        measured = 100 * (1 - distilbert / bert)
    print(f"\n{claim.id}: BERT {bert:,} and DistilBERT {distilbert:,} parameters (bare encoders); "
          f"DistilBERT has {100 * (1 - distilbert / bert):.1f}% fewer")
    for role, summary in sizes.items():
        print(f"  {role}: " + ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in summary.items()))
    check(record_claim(measured, bert=sizes["bert"], distilbert=sizes["distilbert"]))
