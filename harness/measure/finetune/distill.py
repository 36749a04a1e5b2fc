"""DistilBERT (D): the second distillation step during SQuAD fine-tuning, as a Trainer subclass.

The paper (Section 4.2, Table 2) fine-tunes DistilBERT on SQuAD "with a BERT model fine-tuned on SQuAD
as a teacher" in addition to SQuAD's own loss. Its authors' script, run_squad_w_distillation.py
(huggingface/transformers, examples/research_projects/distillation), computes

    loss = alpha_ce * (KL_start + KL_end) / 2 + alpha_squad * loss_squad
    KL_x = KLDiv(log_softmax(student_x / T), softmax(teacher_x / T)) * T^2    (reduction "batchmean")

over the start and end logits of every position, with T = 2, alpha_ce = 0.5, alpha_squad = 0.5 by
default (the values in harness/spec/protocols.yaml). This module computes that loss; the job that builds
the teacher and the data is harness.measure.finetune.training.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional
from transformers import Trainer

from harness.measure.models import accepted_inputs

TEACHER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def soft_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) of the temperature-softened distributions over positions, times T^2."""
    return functional.kl_div(
        functional.log_softmax(student_logits.float() / temperature, dim=-1),
        functional.softmax(teacher_logits.float() / temperature, dim=-1),
        reduction="batchmean",
    ) * temperature**2


def distillation_loss(student: Any, teacher: Any, task_loss: torch.Tensor, temperature: float, alpha_ce: float,
                      alpha_task: float) -> torch.Tensor:
    """run_squad_w_distillation.py's loss: alpha_ce * mean(KL_start, KL_end) + alpha_task * SQuAD loss."""
    kl_start = soft_kl(student.start_logits, teacher.start_logits, temperature)
    kl_end = soft_kl(student.end_logits, teacher.end_logits, temperature)
    return alpha_ce * (kl_start + kl_end) / 2.0 + alpha_task * task_loss


class DistillationTrainer(Trainer):
    """A Trainer whose training loss adds the KL to a frozen fine-tuned teacher's start/end distributions.

    The batches carry the teacher's inputs (BERT's token_type_ids included); the student gets the ones its
    forward accepts. Evaluation is the plain student's (prediction_step is Trainer's own).
    """

    # The loss is a per-batch mean: Trainer divides it by the gradient-accumulation steps itself.
    loss_is_scaled_for_ga = False

    def __init__(self, *args: Any, teacher: nn.Module, temperature: float, alpha_ce: float, alpha_task: float,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        if temperature <= 0 or alpha_ce <= 0 or alpha_ce + alpha_task <= 0:
            raise ValueError(f"distillation needs temperature > 0 and alpha_ce > 0 (got T={temperature}, "
                             f"alpha_ce={alpha_ce}, alpha_task={alpha_task})")
        self.teacher = teacher.to(self.args.device).eval()
        self.teacher.requires_grad_(False)
        self.temperature, self.alpha_ce, self.alpha_task = temperature, alpha_ce, alpha_task
        self._student_inputs = accepted_inputs(self.model)
        self._teacher_inputs = accepted_inputs(self.teacher)

    def compute_loss(self, model: nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> torch.Tensor | tuple[torch.Tensor, Any]:
        outputs = model(**{k: v for k, v in inputs.items() if k in self._student_inputs})
        with torch.no_grad():
            teacher_outputs = self.teacher(**{k: inputs[k] for k in TEACHER_INPUTS if k in inputs and k in self._teacher_inputs})
        if outputs.start_logits.shape != teacher_outputs.start_logits.shape:
            raise ValueError(f"student and teacher logits differ in shape ({tuple(outputs.start_logits.shape)} vs "
                             f"{tuple(teacher_outputs.start_logits.shape)}): they need one tokenization")
        loss = distillation_loss(outputs, teacher_outputs, outputs.loss, self.temperature, self.alpha_ce, self.alpha_task)
        return (loss, outputs) if return_outputs else loss
