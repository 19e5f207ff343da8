"""Several FIRF models of one recipe, trained with different seeds, read as one.

Where the data is thin, seeds of the same recipe disagree more than versions of the recipe do:
on the demo corpus, three seeds read one EmoDB speaker's voice at 0.59-0.80 balanced accuracy
and CK+'s validation faces at 0.91-0.98 (benchmarks/demo_checkpoint.md). A checkpoint that is
one seed ships that seed's luck; the mean of several members' scores does not depend on any
one of them. Members are trained separately (``firf train`` once per seed) and combined with
``FIRFEnsemble.from_members``; the ensemble saves and loads like any model.
"""

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import nn

from firf.batch import Batch
from firf.errors import InputError
from firf.model.config import FIRFEnsembleConfig, HubModelMixin
from firf.model.firf import FIRF
from firf.model.outputs import ModelOutput


class FIRFEnsemble(
    nn.Module,
    HubModelMixin,
    library_name="firf",
    tags=["multimodal-sentiment-analysis", "missing-modality"],
):
    """``config.members`` FIRF models; ``model(batch)`` -> their mean score."""

    def __init__(self, config: FIRFEnsembleConfig):
        super().__init__()
        self.config = config
        member = config.member_config()
        self.members = nn.ModuleList(FIRF(member) for _ in range(config.members))

    def forward(self, batch: Batch) -> ModelOutput:
        outputs = [member(batch) for member in self.members]
        score = torch.stack([o.score for o in outputs]).mean(0)
        # The members' bin distributions averaged (as log-probabilities of the mixture).
        log_probs = torch.stack([o.logits.log_softmax(-1) for o in outputs])
        logits = torch.logsumexp(log_probs, 0) - math.log(len(outputs))
        fused = torch.cat([o.fused for o in outputs], dim=-1)  # side by side, not averaged
        return ModelOutput(score=score, logits=logits, fused=fused)

    @classmethod
    def from_members(cls, members: Sequence[FIRF]) -> "FIRFEnsemble":
        """One ensemble holding copies of ``members``' weights (their configs must agree)."""
        if not members:
            raise InputError("an ensemble needs at least one member")
        if not all(isinstance(m, FIRF) for m in members):
            kinds = sorted({type(m).__name__ for m in members})
            raise InputError(f"ensemble members must be FIRF models, got {', '.join(kinds)}")
        configs = [dataclasses.asdict(m.config) for m in members]
        differing = sorted(k for k in configs[0] if any(c[k] != configs[0][k] for c in configs))
        if differing:
            raise InputError(
                f"ensemble members differ in {differing}: an ensemble averages models of one "
                "architecture trained on the same features"
            )
        fields = {k: v for k, v in configs[0].items() if k != "model_type"}
        ensemble = cls(FIRFEnsembleConfig(**fields, members=len(members)))
        for target, source in zip(ensemble.members, members, strict=True):
            target.load_state_dict(source.state_dict())
        return ensemble.eval()
