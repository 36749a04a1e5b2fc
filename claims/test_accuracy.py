"""Tables 1 and 2: GLUE dev scores, macro scores, the 97% retention, IMDb, SQuAD and DistilBERT (D) (marker slow).

Each claim asks harness.measure.accuracy for its measurement: the median over --seeds of fine-tuning
--bert-checkpoint / --distilbert-checkpoint with --protocol (harness/spec/protocols.yaml), read back from
the result cache (--cache-dir) when a job was already run (--refresh to run it again), invalid seeds
replaced by up to --rerun-invalid further ones. The judge gives each value its interval from the seeds
(docs/verdicts.md); a quick run (--max-train-samples, a quick protocol) is reported as `not judged`.
Where the weights or the data cannot be had, the claim skips naming what is missing and the fix (the
plugin's policy); a cell with no valid seed fails as an error of the run. The runner is the plugin's
`accuracy_runner` fixture (harness.plugin.options), the one the executors plan their jobs for; each row is
measured by its family's entry in harness.spec.families, so a new family that fine-tunes needs no test here.
"""

import pytest

from harness.judge.verdict import check
from harness.spec import families


@pytest.mark.claims(*families.fine_tuned())  # every family that fine-tunes (harness.spec.families)
def test_accuracy_claim(claim, record_claim, accuracy_runner):
    measurement = accuracy_runner.measure(claim)
    print(f"\n{claim.id}: {measurement.summary}")
    check(record_claim(measurement))
