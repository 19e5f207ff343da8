"""What a forward pass returns: ``ModelOutput`` for every model, ``ViewPass`` for FIRF's losses."""

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ModelOutput:
    score: Tensor  # (B,) in [-score_range, score_range]
    logits: Tensor | None  # (B, K) over sentiment bins, or None for models without that head
    fused: Tensor  # (B, D) the representation the heads read


def mean_output(outputs: list[ModelOutput]) -> ModelOutput:
    """Several models' outputs on one batch read as one: the mean score, the mixture of their
    bin distributions (as log-probabilities), their representations side by side."""
    score = torch.stack([o.score for o in outputs]).mean(0)
    logits = None
    if all(o.logits is not None for o in outputs):
        log_probs = torch.stack([o.logits.log_softmax(-1) for o in outputs])
        logits = torch.logsumexp(log_probs, 0) - math.log(len(outputs))
    return ModelOutput(score=score, logits=logits, fused=torch.cat([o.fused for o in outputs], -1))


@dataclass
class ViewPass:
    """One view's trip through FIRF, kept whole because the losses look inside it."""

    output: ModelOutput
    tokens: dict[str, Tensor]  # H_m (B, L_m, D), zero at masked tokens
    masks: dict[str, Tensor]  # (B, L_m) token masks after frame pooling
    factors: dict[str, dict[str, Tensor]]  # "s" / "p" / "n" -> modality -> (B, L_m, D)
    own: dict[str, Tensor]  # factor -> (B, 3, D) summaries pooled over observed tokens
    recovered: dict[str, Tensor]  # factor -> (B, 3, D); empty without reconstruction
    has_source: Tensor | None  # (B, 3): some other modality was there to recover from
    present: Tensor  # (B, 3)
    coverage: Tensor  # (B, 3)
    unimodal_scores: Tensor  # (B, 3) each modality's own head (meaningless where absent)
    fused_score: Tensor  # (B,) the score read from fusion alone (the task loss trains it)
