"""Baselines trained and evaluated in the same harness as FIRF, with the same API.

- ``LateFusion``: the classic baseline. Missing inputs are zero-filled and the model sees the
  zeros; it only knows where each clip ends.
- ``SharedPrivate`` (model_type "misa"): MISA-style shared/private utterance representations
  with CMD similarity, orthogonality and reconstruction losses; no noise factor, no recovery
  of missing modalities, no distillation.

Both train on the two views ``compute_loss`` receives as plain augmentation.
"""

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from firf.batch import Batch, presence
from firf.errors import InputError
from firf.modalities import MODALITIES
from firf.model import losses
from firf.model.config import HubModelMixin, LateFusionConfig, SharedPrivateConfig
from firf.model.layers import (
    MaskedEncoder,
    Transformer,
    bounded,
    check_batch,
    clip_mask,
    masked_mean,
    mlp,
)
from firf.model.outputs import ModelOutput

TAGS = ["multimodal-sentiment-analysis", "baseline"]


def labels_of(view_a: Batch, view_b: Batch) -> Tensor:
    if "label" not in view_a:
        raise InputError("view_a has no 'label'; compute_loss needs labelled batches")
    if view_a["label"].shape[0] != view_b["text_mask"].shape[0]:
        raise InputError("the two views must hold the same samples in the same order")
    return view_a["label"].float()


def encoders_for(config: LateFusionConfig | SharedPrivateConfig) -> nn.ModuleDict:
    dims, c = config.dims(), config
    return nn.ModuleDict(
        {
            m: MaskedEncoder(
                dims[m], c.d_model, c.n_heads, c.encoder_layers, c.dropout, c.strides[m]
            )
            for m in MODALITIES
        }
    )


class LateFusion(nn.Module, HubModelMixin, library_name="firf", tags=TAGS):
    """Per-modality encoders, mean-pooled over the clip, concatenated, an MLP."""

    def __init__(self, config: LateFusionConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        self.encoders = encoders_for(config)
        self.hidden = nn.Sequential(
            nn.Linear(len(MODALITIES) * d, d), nn.GELU(), nn.Dropout(config.dropout)
        )
        self.score_head = nn.Linear(d, 1)

    def forward(self, batch: Batch) -> ModelOutput:
        check_batch(batch, self.config.dims())
        pooled = []
        for m in MODALITIES:
            # Lost frames become zeros of the encoder's standardised input (the training mean)
            # that it reads like any frame; only padding past the clip's end is ignored. This
            # is what makes the baseline fragile, on purpose.
            encoder = self.encoders[m]
            lost = batch[f"{m}_mask"].unsqueeze(-1) <= 0
            frames = torch.where(lost, encoder.input_mean, batch[m])
            in_clip = clip_mask(batch[f"{m}_lengths"], frames.shape[1])
            tokens, token_mask = encoder(frames, in_clip)
            pooled.append(masked_mean(tokens, token_mask))
        fused = self.hidden(torch.cat(pooled, dim=-1))
        score = bounded(self.score_head(fused).squeeze(-1), self.config.score_range)
        return ModelOutput(score=score, logits=None, fused=fused)

    def compute_loss(self, view_a: Batch, view_b: Batch) -> tuple[Tensor, dict[str, float]]:
        """L1 task loss on both views."""
        label = labels_of(view_a, view_b)
        l1_a = F.l1_loss(self(view_a).score, label)
        l1_b = F.l1_loss(self(view_b).score, label)
        loss = l1_a + l1_b
        logs = {"l1_a": l1_a.item(), "l1_b": l1_b.item(), "loss": loss.item()}
        return loss, logs


@dataclass
class SharedPrivatePass:
    output: ModelOutput
    utterance: Tensor  # (B, 3, D) masked-pooled encoder outputs
    shared: Tensor  # (B, 3, D)
    private: Tensor  # (B, 3, D)
    present: Tensor  # (B, 3)


class SharedPrivate(nn.Module, HubModelMixin, library_name="firf", tags=TAGS):
    """MISA-style: each utterance vector is projected into a space shared by all modalities
    and a private one per modality; a small Transformer fuses the six vectors."""

    def __init__(self, config: SharedPrivateConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        self.encoders = encoders_for(config)
        self.shared = mlp(d, d, d, config.dropout)
        self.private = nn.ModuleDict({m: mlp(d, d, d, config.dropout) for m in MODALITIES})
        self.decoders = nn.ModuleDict({m: nn.Linear(d, d) for m in MODALITIES})
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.type_embedding = nn.Parameter(0.02 * torch.randn(2 * len(MODALITIES), d))
        self.fusion = Transformer(d, config.n_heads, config.fusion_layers, config.dropout)
        self.score_head = nn.Linear(d, 1)
        self.loss_config = losses.SharedPrivateLoss()  # training settings; not saved

    def forward(self, batch: Batch) -> ModelOutput:
        return self.run(batch).output

    def run(self, batch: Batch) -> SharedPrivatePass:
        check_batch(batch, self.config.dims())
        present = presence(batch)
        utterance = []
        for m in MODALITIES:
            tokens, token_mask = self.encoders[m](batch[m], batch[f"{m}_mask"])
            utterance.append(masked_mean(tokens, token_mask))
        u = torch.stack(utterance, dim=1)
        shared = self.shared(u)
        private = torch.stack([self.private[m](u[:, i]) for i, m in enumerate(MODALITIES)], 1)

        # A missing modality's vectors are left out of fusion: nothing stands in for them.
        vectors = torch.cat([shared, private], dim=1) + self.type_embedding
        batch_size = u.shape[0]
        sequence = torch.cat([self.cls.expand(batch_size, -1, -1), vectors], dim=1)
        mask = torch.cat([present.new_ones(batch_size, 1), present.repeat(1, 2)], dim=1)
        fused = self.fusion(sequence, mask)[:, 0]
        score = bounded(self.score_head(fused).squeeze(-1), self.config.score_range)
        output = ModelOutput(score=score, logits=None, fused=fused)
        return SharedPrivatePass(output, u, shared, private, present)

    def compute_loss(self, view_a: Batch, view_b: Batch) -> tuple[Tensor, dict[str, float]]:
        """L1 task loss on both views plus MISA's similarity, difference and reconstruction
        losses (averaged over the views)."""
        label = labels_of(view_a, view_b)
        c = self.loss_config
        views = (self.run(view_a), self.run(view_b))
        terms = {
            "l1_a": (1.0, F.l1_loss(views[0].output.score, label)),
            "l1_b": (1.0, F.l1_loss(views[1].output.score, label)),
            "sim": (c.lambda_sim, torch.stack([self.similarity_loss(v) for v in views]).mean()),
            "diff": (c.lambda_diff, torch.stack([self.difference_loss(v) for v in views]).mean()),
            "rec": (c.lambda_rec, torch.stack([self.rebuild_loss(v) for v in views]).mean()),
        }
        loss = sum(weight * value for weight, value in terms.values())
        logs = {name: float(value.detach()) for name, (_, value) in terms.items()}
        logs["loss"] = float(loss.detach())
        return loss, logs

    def similarity_loss(self, view: SharedPrivatePass) -> Tensor:
        """CMD between the shared vectors of every pair of modalities present together."""
        present = view.present > 0
        terms = []
        for i, j in itertools.combinations(range(len(MODALITIES)), 2):
            both = present[:, i] & present[:, j]
            x, y = view.shared[both, i], view.shared[both, j]
            terms.append(losses.central_moment_discrepancy(x, y, self.loss_config.cmd_moments))
        return torch.stack(terms).mean()

    def difference_loss(self, view: SharedPrivatePass) -> Tensor:
        """Soft orthogonality of shared vs private, and private vs private."""
        present = view.present > 0
        terms = []
        for i in range(len(MODALITIES)):
            terms.append(losses.orthogonality(view.shared[:, i], view.private[:, i], present[:, i]))
            for j in range(i + 1, len(MODALITIES)):
                both = present[:, i] & present[:, j]
                terms.append(losses.orthogonality(view.private[:, i], view.private[:, j], both))
        return torch.stack(terms).mean()

    def rebuild_loss(self, view: SharedPrivatePass) -> Tensor:
        """shared + private rebuild the (detached) utterance vector of a present modality."""
        terms = []
        for i, m in enumerate(MODALITIES):
            rebuilt = self.decoders[m](view.shared[:, i] + view.private[:, i])
            target = view.utterance[:, i].detach()
            terms.append(losses.weighted_mse(rebuilt, target, view.present[:, i]))
        return torch.stack(terms).mean()
