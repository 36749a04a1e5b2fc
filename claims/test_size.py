"""Table 3's sizes: BERT-base 110M and DistilBERT 66M parameters, 40% fewer.

Each row asks harness.measure.size for its measurement, by the row's metric: exact counts on the
architectures built from each checkpoint's config (no weights needed), so these claims hold or fail
the same on any machine, offline.
"""

import pytest

from harness.judge.verdict import check
from harness.measure import size


@pytest.fixture(scope="session")
def sizes(architectures):
    """Exact parameter counts and fp32 sizes of both architectures."""
    return size.sizes(architectures)


@pytest.mark.claims("size")
def test_size_claim(claim, record_claim, sizes):
    measurement = size.measure(claim, sizes)
    print(f"{claim.id}: {measurement.summary}")
    check(record_claim(measurement))
