"""distilbert-claims: a harness that measures the claims of the DistilBERT paper (arXiv:1910.01108).

The claim tests in claims/ ask this package to count, time, fine-tune and evaluate; the verdicts
against the paper's figures come from :mod:`harness.judge.verdict`. The packages follow the path a claim
takes: spec -> data -> measure -> judge -> reporting, wired into pytest by plugin (README.md, Layout).
"""

__version__ = "0.1.0"
