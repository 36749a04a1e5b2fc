"""The paper's own arithmetic: recompute a figure (a mean, a ratio) from the paper's other figures.

A paper_arithmetic row names its operation and operands in its params (claim ids whose paper values
it combines, or literal values), optionally substituting a value, e.g. MNLI 84.7 for BERT's 86.7; the
registry checks those params when it loads (harness.spec.registry.PARAMS). Nothing here measures a
model: it checks that the paper's tables agree with themselves.
"""

from __future__ import annotations

from statistics import fmean

from harness.errors import ClaimsError
from harness.spec.registry import Claim, Registry


def operands(claim: Claim, registry: Registry) -> list[float]:
    """The paper values the row combines, in order, with its substitutions applied."""
    substitute = claim.params.get("substitute", {})
    if "values" in claim.params:
        return [float(v) for v in claim.params["values"]]
    values = []
    for claim_id in claim.params.get("operands", []):
        value = substitute.get(claim_id, registry.get(claim_id).paper_value)
        if value is None:
            raise ClaimsError(f"{claim.id}: operand {claim_id} has no paper value", "name claims that carry a paper_value")
        values.append(float(value))
    return values


def recompute(claim: Claim, registry: Registry) -> float:
    """The figure the row's operation (mean | ratio_percent, checked by the registry) gives from the paper's numbers."""
    values = operands(claim, registry)
    if claim.params["operation"] == "mean":
        return fmean(values)
    if len(values) != 2:
        raise ClaimsError(f"{claim.id}: params.operation ratio_percent with {len(values)} operands",
                          "a ratio takes exactly two operands (or values): numerator, denominator")
    return 100.0 * values[0] / values[1]
