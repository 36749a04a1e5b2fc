"""distilbert-claims: a harness that measures the claims of the DistilBERT paper (arXiv:1910.01108).

The claim tests in claims/ ask this package to count, time, fine-tune and evaluate; the verdicts
against the paper's figures come from :mod:`harness.verdict`. See README.md for the whole path.
"""

__version__ = "0.1.0"
