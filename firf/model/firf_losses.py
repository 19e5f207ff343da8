"""FIRF's loss terms over the views of a batch: plain functions of ``ViewPass`` tensors.

The terms that need no parameters live here; ``FIRF.compute_loss`` weighs them with its
``FIRFLoss`` (terms that read the model's own modules, the task, decoding and noise losses,
stay methods of ``FIRF``).
"""

import torch
from torch import Tensor

from firf.modalities import MODALITIES
from firf.model import losses
from firf.model.outputs import ViewPass


def unimodal_loss(view: ViewPass, label: Tensor) -> Tensor:
    """Each present modality predicts the label alone from its own pooled summaries (the
    factors that enter fusion): L1 weighted by presence, averaged over modalities."""
    terms = [
        losses.weighted_l1(view.unimodal_scores[:, i], label, view.present[:, i])
        for i in range(len(MODALITIES))
    ]
    return torch.stack(terms).mean()


def synergy_loss(view: ViewPass) -> Tensor:
    """A sample's pooled s_t, s_a, s_v agree dimension by dimension (``losses.agreement``)."""
    return losses.agreement(view.own["s"], view.present)


def heterogeneity_loss(view: ViewPass) -> Tensor:
    """Soft orthogonality: (s_m, p_m) and (p_m, p_m'). With p_m = h_m - s_m, s_m orthogonal to
    p_m makes s_m a projection of h_m rather than any function of it. The noise factor needs
    none: it is built from frame deviations, so it holds no clip-level content to share."""
    own, present = view.own, view.present > 0
    terms = []
    for i in range(len(MODALITIES)):
        terms.append(losses.orthogonality(own["s"][:, i], own["p"][:, i], present[:, i]))
        for j in range(i + 1, len(MODALITIES)):
            both = present[:, i] & present[:, j]
            terms.append(losses.orthogonality(own["p"][:, i], own["p"][:, j], both))
    return torch.stack(terms).mean()


def missing_loss(a: ViewPass, b: ViewPass, factors: tuple[str, ...]) -> Tensor:
    """Recovered summaries should match what the modality really carries.

    For every modality, the summary recovered in one view is pulled toward the observed
    summary (stop-gradient) of the same sample in both views, weighted by how much of the
    modality that view observed: cross-view where it is missing in one view and present in
    the other, leave-one-out where it is present in the same view.
    """
    terms = []
    for source in (a, b):
        for target in (a, b):
            weight = source.has_source.float() * target.coverage
            for name in factors:
                for i in range(len(MODALITIES)):
                    terms.append(
                        losses.weighted_mse(
                            source.recovered[name][:, i],
                            target.own[name][:, i].detach(),
                            weight[:, i],
                        )
                    )
    return torch.stack(terms).mean()


def distillation_loss(a: ViewPass, b: ViewPass, cfg: losses.FIRFLoss) -> tuple[Tensor, Tensor]:
    """DCSD between the two views: (distribution term, score term).

    The student's distribution head is pulled toward the teacher's (KL at temperature T), and
    its evaluated score toward the teacher's score (L1), stop-gradient on the teacher. Only the
    strictly more complete view teaches (by mean coverage): a damaged view pulling the complete
    one toward its poorer reading cost accuracy on the selection split. The two-way ablation
    (``kd_bidirectional``) lets both views teach, each direction weighted by the teacher's share
    of completeness. The score term is what makes distillation matter: the score is what is
    evaluated, and a student matching a complete teacher's score learns, for its own missing
    pattern, the teacher's expected reading (``benchmarks/BENCHMARKS.md``, "Distillation that
    targets the score").
    """
    complete_a, complete_b = a.coverage.mean(1), b.coverage.mean(1)
    if cfg.kd_bidirectional:
        a_teaches = (complete_a + 1e-3) / (complete_a + complete_b + 2e-3)
        b_teaches = 1 - a_teaches
    else:
        a_teaches = (complete_a > complete_b).float()
        b_teaches = (complete_b > complete_a).float()
    t = cfg.kd_temperature
    logits_a, logits_b = a.output.logits, b.output.logits
    kd = a_teaches * losses.distillation_kl(logits_a.detach(), logits_b, t)
    kd = kd + b_teaches * losses.distillation_kl(logits_b.detach(), logits_a, t)
    score_a, score_b = a.output.score, b.output.score
    score = a_teaches * (score_b - score_a.detach()).abs()
    score = score + b_teaches * (score_a - score_b.detach()).abs()
    return kd.mean(), score.mean()


def total_and_logs(terms: dict[str, tuple[float, Tensor]]) -> tuple[Tensor, dict[str, float]]:
    """The weighted sum of ``terms`` and each unweighted value (plus the total) for the logs."""
    # start from a zero tensor: a model with every label-free term switched off has no terms
    loss = sum((weight * value for weight, value in terms.values()), torch.zeros(()))
    logs = {name: float(value.detach()) for name, (_, value) in terms.items()}
    logs["loss"] = float(loss.detach())
    return loss, logs


def mean_of(values) -> Tensor:
    return torch.stack(list(values)).mean()
