"""The paper's own arithmetic: recompute a figure (a mean, a ratio) from the paper's other figures.

A paper_arithmetic row names its operation and operands in its params (claim ids whose paper values
it combines, `table1_row: MODEL` for a model's nine GLUE cells, or literal values), optionally
substituting a value, e.g. MNLI 84.7 for BERT's 86.7; the registry checks those params when it loads
(the family's params, harness.spec.families). Nothing here measures a model: it checks that the
paper's tables agree with themselves.
"""

from __future__ import annotations

from statistics import fmean

from harness.errors import ClaimsError
from harness.spec.registry import Claim, Registry
from harness.spec.tasks import glue_task_names


def operands(claim: Claim, registry: Registry) -> list[float]:
    """The paper values the row combines, in order, with its substitutions applied."""
    substitute = claim.params.get("substitute", {})
    if "values" in claim.params:
        return [float(v) for v in claim.params["values"]]
    values = []
    for claim_id in operand_ids(claim, registry):
        value = substitute.get(claim_id, registry.get(claim_id).paper_value)
        if value is None:
            raise ClaimsError(f"{claim.id}: operand {claim_id} has no paper value", "name claims that carry a paper_value")
        values.append(float(value))
    return values


def operand_ids(claim: Claim, registry: Registry) -> list[str]:
    """The claim ids a row combines: its `operands`, or with `table1_row: MODEL` that model's GLUE cells of Table 1, in
    the order of harness/spec/tasks.yaml's GLUE tasks (the one list of them)."""
    model = claim.params.get("table1_row")
    if model is None:
        return list(claim.params.get("operands", []))
    cells = {row.task: row.id for row in registry.family("glue") if row.model == model}
    missing = [task for task in glue_task_names() if task not in cells]
    if missing:
        raise ClaimsError(f"{claim.id}: params.table1_row {model!r} has no glue row for {', '.join(missing)}",
                          "add the model's glue rows to the registry, or list the operands")
    return [cells[task] for task in glue_task_names()]


def recompute(claim: Claim, registry: Registry) -> float:
    """The figure the row's operation (mean | ratio_percent, checked by the registry) gives from the paper's numbers."""
    values = operands(claim, registry)
    if claim.params["operation"] == "mean":
        return fmean(values)
    if len(values) != 2:
        raise ClaimsError(f"{claim.id}: params.operation ratio_percent with {len(values)} operands",
                          "a ratio takes exactly two operands (or values): numerator, denominator")
    return 100.0 * values[0] / values[1]
