"""Tables 1 and 2: GLUE dev scores, macro scores, the 97% retention, IMDb and SQuAD (marker slow).

These claims need the pretrained checkpoints fine-tuned on each task; they run under --run-slow.
"""

import pytest


@pytest.mark.claims("glue", "macro", "retention", "downstream")
def test_accuracy_claim(claim, record_claim):
    pytest.skip("the fine-tuning harness is not built yet (see the fine-tuning issue)")
