"""FIRF: factorization-based information reconstruction for missing-modality robustness.

A batch flows through five steps, in the order of this file:

1. unimodal masked encoders: frames of each modality -> tokens H_m;
2. fine-grained complementary factorization (FCF): every token of H_m is split into a
   synergistic part S_m (one encoder shared by all modalities, trained to agree across
   modalities) and the heterogeneous remainder P_m = H_m - S_m, so the split loses nothing;
   a noisy part N_m is read from the frames' deviations from their clip's mean, so it cannot
   hold anything constant over the clip, and is excluded from fusion;
3. reconstruction of missing semantics: each modality's summaries (pooled s_m, p_m) are also
   recovered from the *other* present modalities' s and p (knowing which are present), and
   stand in for the modality's own summaries where it is wholly missing;
4. fusion: a Transformer over [CLS] + observed tokens + per-modality summaries; the fused
   [CLS] and summaries are read out into one vector -> a bounded score and a distribution over
   sentiment bins; with one modality present, the score is averaged with that modality's own
   head (``blend_single_modality``);
5. distribution-calibration self-distillation (DCSD) in ``compute_loss``: of two views of the
   same samples with different missing patterns, the more complete one teaches the other its
   distribution and score (an unlabelled clip teaches its own damaged view whole).

A checkpoint may hold several seeds trained apart (``config.members``, ``firf.model.ensemble``).
"""

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from firf.batch import Batch, coverage, presence
from firf.errors import InputError
from firf.modalities import MODALITIES
from firf.model import losses
from firf.model.config import RETIRED_FIRF_WEIGHTS, FIRFConfig, HubModelMixin
from firf.model.firf_losses import (
    distillation_loss,
    heterogeneity_loss,
    mean_of,
    missing_loss,
    synergy_loss,
    total_and_logs,
    unimodal_loss,
)
from firf.model.layers import (
    MaskedEncoder,
    Transformer,
    bounded,
    check_batch,
    masked_mean,
    mlp,
)
from firf.model.outputs import ModelOutput, ViewPass, mean_output


class FIRF(
    nn.Module,
    HubModelMixin,
    library_name="firf",
    tags=["multimodal-sentiment-analysis", "missing-modality"],
):
    """Missing-modality-robust sentiment model. ``model(batch)`` -> ModelOutput."""

    retired_weights = RETIRED_FIRF_WEIGHTS  # why older layouts no longer load

    def __init__(self, config: FIRFConfig):
        super().__init__()
        self.config = config
        c, d = config, config.d_model
        dims = c.dims()

        # 1. Unimodal masked encoders; the audio one may carry a fixed tone readout.
        probe = {"audio": c.audio_probe_from}
        size = (d, c.n_heads, c.encoder_layers, c.dropout)
        self.encoders = nn.ModuleDict(
            {m: MaskedEncoder(dims[m], *size, c.strides[m], probe.get(m)) for m in MODALITIES}
        )

        # 2. FCF. Without it the encoder output plays the synergistic role ("s") on its own.
        self.fusion_factors = ("s", "p") if c.use_fcf else ("s",)
        if c.use_fcf:
            # P_m is the remainder H_m - S_m: no encoder of its own, so S_m + P_m is exactly
            # the token the fusion would read without FCF (two free encoders cost accuracy).
            self.synergy = mlp(d, d, d, c.dropout)
            n_factors = 2
            if c.use_noise:
                n_factors = 3
                self.noise = nn.ModuleDict({m: mlp(dims[m], d, d) for m in MODALITIES})
            # Rebuilds each token from its clip's pooled s and p (and the token's own n): the
            # clip-level content must be in s and p, since n cannot hold it.
            self.decoders = nn.ModuleDict({m: mlp(n_factors * d, d, d) for m in MODALITIES})

        # 3. Reconstruction: one generator per modality sees the other modalities' pooled s
        # and p and which of them are present, and emits that modality's s (and p). Learned
        # priors stand in when no other modality is there.
        if c.use_reconstruction:
            self.recovery_reads = ("s",) if c.recover_from_s else self.fusion_factors
            n_in = len(MODALITIES) * (len(self.recovery_reads) * d + 1)
            n_out = len(self.fusion_factors) * d
            self.recover_from = nn.ModuleDict({m: mlp(n_in, d, n_out) for m in MODALITIES})
            self.prior = nn.Parameter(torch.zeros(len(MODALITIES), n_out))

        # 4. Fusion and heads.
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.modality_embedding = nn.Parameter(0.02 * torch.randn(len(MODALITIES), d))
        # One summary slot per modality holding s + p (the pooled H_m, or its recovery): with s
        # and p in slots of their own (``split_summaries``) the label loss pulls private
        # sentiment into s, against FCF's own terms.
        self.summary_slots = len(self.fusion_factors) if c.split_summaries else 1
        n_summaries = self.summary_slots * len(MODALITIES)
        self.summary_embedding = nn.Parameter(0.02 * torch.randn(n_summaries, d))
        self.fusion = Transformer(d, c.n_heads, c.fusion_layers, c.dropout)
        # The heads read the fused [CLS] together with the fused summaries, each in its own
        # slot: a single attention readout would average modalities' evidence into one vector.
        self.readout = nn.Sequential(
            nn.Linear((1 + n_summaries) * d, d), nn.GELU(), nn.Dropout(c.dropout), nn.LayerNorm(d)
        )
        self.score_head = nn.Linear(d, 1)
        # A linear score on the summary slots as they enter fusion, added to the fused score:
        # with few labels the readout above loses label information a linear readout of the
        # same summaries keeps (docs/method.md, "A linear score from the summaries").
        if c.summary_score:
            self.summary_score_head = nn.Linear(n_summaries * d, 1)
        self.dist_head = nn.Linear(d, c.n_bins)
        # Per-modality heads on the modality's own summaries, trained by the ``uni`` loss and
        # read when a single modality is present (``blend_single_modality``).
        self.unimodal_heads = nn.ModuleDict(
            {m: nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 1)) for m in MODALITIES}
        )
        self.loss_config = losses.FIRFLoss()  # training settings; not saved with the model
        centers = torch.linspace(-c.score_range, c.score_range, c.n_bins)
        self.register_buffer("bin_centers", centers, persistent=False)

        # The other seeds of a checkpoint of several (``members`` > 1): FIRFs of this config,
        # trained apart; the forward pass averages their outputs with this model's.
        member = dataclasses.replace(c, members=1)
        self.other_members = nn.ModuleList(FIRF(member) for _ in range(c.members - 1))

    def forward(self, batch: Batch) -> ModelOutput:
        outputs = [self.run(batch).output, *(member(batch) for member in self.other_members)]
        return outputs[0] if len(outputs) == 1 else mean_output(outputs)

    def run(self, batch: Batch) -> ViewPass:
        """The forward pass, keeping the intermediate factors the losses need."""
        check_batch(batch, self.config.dims())
        present, cover = presence(batch), coverage(batch)

        # 1. Encode each modality; masked frames are zeroed and never attended to.
        frames, tokens, masks = {}, {}, {}
        for m in MODALITIES:
            frames[m] = self.encoders[m].standardized(batch[m], batch[f"{m}_mask"])
            tokens[m], masks[m] = self.encoders[m].encode(frames[m], batch[f"{m}_mask"])

        # 2. Factorize every token, then pool each factor over the observed tokens.
        factors = self.factorize(tokens, frames, batch)
        own = {
            name: torch.stack([masked_mean(parts[m], masks[m]) for m in MODALITIES], dim=1)
            for name, parts in factors.items()
        }

        # 3. Recover each modality's summaries from the others; they stand in for a modality
        # that is wholly missing. A partly observed modality keeps its own summary: the mean
        # of its observed tokens is unbiased, the recovery lacks its private content.
        recovered, has_source = {}, None
        if self.config.use_reconstruction:
            recovered, has_source = self.recover(own, present)
            seen = present.unsqueeze(-1) > 0
            summaries = {
                name: torch.where(seen, own[name], recovered[name]) for name in self.fusion_factors
            }
            summary_mask = torch.ones_like(present)
        else:
            summaries, summary_mask = own, present

        # 4. Fuse [CLS] + observed tokens (S + P, never N) + summaries.
        batch_size = present.shape[0]
        sequence = [self.cls.expand(batch_size, -1, -1)]
        sequence_mask = [present.new_ones(batch_size, 1)]
        for i, m in enumerate(MODALITIES):
            fused_parts = sum(factors[name][m] for name in self.fusion_factors)
            sequence.append(fused_parts + self.modality_embedding[i])
            sequence_mask.append(masks[m])
        if self.config.split_summaries:
            summary_tokens = torch.cat([summaries[name] for name in self.fusion_factors], dim=1)
        else:
            summary_tokens = sum(summaries[name] for name in self.fusion_factors)
        sequence.append(summary_tokens + self.summary_embedding)
        sequence_mask.append(summary_mask.repeat(1, self.summary_slots))
        mixed = self.fusion(torch.cat(sequence, dim=1), torch.cat(sequence_mask, dim=1))
        n_summaries = summary_tokens.shape[1]
        fused = self.readout(torch.cat([mixed[:, 0], mixed[:, -n_summaries:].flatten(1)], dim=1))

        logit = self.score_head(fused).squeeze(-1)
        if self.config.summary_score:
            logit = logit + self.summary_score_head(summary_tokens.flatten(1)).squeeze(-1)
        fused_score = bounded(logit, self.config.score_range)
        unimodal = torch.stack([self.unimodal_score(own, i) for i in range(len(MODALITIES))], 1)
        score = blend_single_modality(fused_score, unimodal, present)
        output = ModelOutput(score=score, logits=self.dist_head(fused), fused=fused)
        return ViewPass(
            output,
            tokens,
            masks,
            factors,
            own,
            recovered,
            has_source,
            present,
            cover,
            unimodal,
            fused_score,
        )

    def unimodal_score(self, own: dict[str, Tensor], i: int) -> Tensor:
        """(B,): modality i's score from its own pooled summaries (the factors that enter
        fusion). Meaningless where the modality is absent; callers weight by presence."""
        summary = sum(own[name][:, i] for name in self.fusion_factors)
        head = self.unimodal_heads[MODALITIES[i]]
        return bounded(head(summary).squeeze(-1), self.config.score_range)

    def factorize(
        self, tokens: dict[str, Tensor], frames: dict[str, Tensor], batch: Batch
    ) -> dict[str, dict[str, Tensor]]:
        """Token-level FCF: H_m -> S_m (shared encoder) and P_m = H_m - S_m; N_m from the
        standardised input ``frames``' deviations from the clip mean (``deviations``)."""
        if not self.config.use_fcf:
            return {"s": tokens}
        synergistic = {m: self.synergy(h) for m, h in tokens.items()}
        factors = {
            "s": synergistic,
            "p": {m: h - synergistic[m] for m, h in tokens.items()},
        }
        if self.config.use_noise:
            factors["n"] = {
                m: self.noise[m](self.encoders[m].deviations(frames[m], batch[f"{m}_mask"]))
                for m in MODALITIES
            }
        return factors

    def recover(self, own: dict[str, Tensor], present: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Each modality's s (and p) summaries as recovered from the other present modalities.

        Computed for every modality, present or not: for a missing one it is all there is, for
        a partly observed one it fills the gaps, and for a complete one it gives the
        reconstruction loss something to check (leave-one-out).
        """
        others = 1 - torch.eye(len(MODALITIES), device=present.device)
        sources = present.unsqueeze(1) * others  # (B, target, source)
        has_source = sources.sum(-1) > 0  # (B, target)
        summaries = torch.cat([own[name] for name in self.recovery_reads], dim=-1)
        generated = []
        for i, m in enumerate(MODALITIES):
            visible = (sources[:, i].unsqueeze(-1) * summaries).flatten(1)
            generated.append(self.recover_from[m](torch.cat([visible, sources[:, i]], dim=1)))
        found = torch.where(has_source.unsqueeze(-1), torch.stack(generated, dim=1), self.prior)
        parts = found.chunk(len(self.fusion_factors), dim=-1)
        return dict(zip(self.fusion_factors, parts, strict=True)), has_source

    # ---- training -------------------------------------------------------------------------

    def compute_loss(self, view_a: Batch, view_b: Batch) -> tuple[Tensor, dict[str, float]]:
        """Total loss over two views of the same samples; logs hold each unweighted term."""
        if "label" not in view_a:
            raise InputError("view_a has no 'label'; compute_loss needs labelled batches")
        self.check_trainable()
        label = view_a["label"].float()
        a, b = self.run(view_a), self.run(view_b)
        if a.present.shape[0] != b.present.shape[0]:
            raise InputError("the two views must hold the same samples in the same order")
        w = self.loss_config

        terms: dict[str, tuple[float, Tensor]] = {}  # name -> (weight, value)
        for name, view in (("a", a), ("b", b)):
            l1, ce = self.task_loss(view.fused_score, view.output.logits, label)
            terms[f"l1_{name}"] = (1.0, l1)
            terms[f"dist_{name}"] = (w.lambda_dist, ce)
        terms["uni"] = (w.lambda_uni, mean_of(unimodal_loss(v, label) for v in (a, b)))
        terms.update(self.label_free_terms(a, b))
        return total_and_logs(terms)

    def label_free_loss(
        self, view_a: Batch, view_b: Batch, teacher: "FIRF | None" = None
    ) -> tuple[Tensor, dict[str, float]]:
        """The terms that need no label, on two views of unlabelled clips (labels ignored).

        ``teacher`` (``train_fixed`` passes the weight average of this model, in eval mode)
        reads view A in this model's place as the distillation teacher: with few labels the
        model's own reading of a clip follows it into overfitting them, the average's reading
        is steadier (a "mean teacher"; BENCHMARKS.md, "A mean teacher for unlabelled clips").
        """
        self.check_trainable()
        a, b = self.run(view_a), self.run(view_b)
        reading = None
        if teacher is not None and self.loss_config.lambda_kd > 0:  # only distillation reads it
            with torch.no_grad():
                reading = teacher.run(view_a)
        return total_and_logs(self.label_free_terms(a, b, reading))

    def check_trainable(self) -> None:
        """Seeds read as one are trained apart (one ``firf train`` each), never as a whole."""
        if self.other_members:
            raise InputError("several seeds read as one: train each, then combine them")

    def label_free_terms(
        self, a: ViewPass, b: ViewPass, teacher: ViewPass | None = None
    ) -> dict[str, tuple[float, Tensor]]:
        """Factorization, reconstruction and distillation terms: name -> (weight, value).
        Distillation reads ``teacher`` in place of view ``a`` when one is given."""
        c, w = self.config, self.loss_config
        terms: dict[str, tuple[float, Tensor]] = {}
        if c.use_fcf:
            terms["syn"] = (w.lambda_syn, mean_of(synergy_loss(v) for v in (a, b)))
            terms["het"] = (w.lambda_het, mean_of(heterogeneity_loss(v) for v in (a, b)))
            terms["rec"] = (w.lambda_rec, mean_of(self.decoding_loss(v) for v in (a, b)))
        if c.use_reconstruction:
            terms["miss"] = (w.lambda_miss, missing_loss(a, b, self.fusion_factors))
        if w.lambda_kd > 0:
            kd, kd_score = distillation_loss(a if teacher is None else teacher, b, w)
            terms["kd"] = (w.lambda_kd, kd)
            terms["kd_score"] = (w.lambda_kd, kd_score)
        return terms

    def task_loss(self, score: Tensor, logits: Tensor, label: Tensor) -> tuple[Tensor, Tensor]:
        """L1 on the fused score (the MMSA convention) and cross-entropy of the distribution
        head against the Gaussian-smoothed label."""
        bin_width = 2 * self.config.score_range / (self.config.n_bins - 1)
        sigma = self.loss_config.dist_sigma_bins * bin_width
        target = losses.gaussian_targets(label, self.bin_centers, sigma)
        return F.l1_loss(score, label), losses.soft_cross_entropy(logits, target)

    def decoding_loss(self, view: ViewPass) -> Tensor:
        """Each observed token of H_m is rebuilt from the clip's pooled s_m and p_m and the
        token's own n_m. The target is detached so the encoder cannot make the task easy by
        shrinking H_m. n_m holds no clip-level content, so s_m and p_m must hold all of it."""
        terms = []
        for i, m in enumerate(MODALITIES):
            length = view.tokens[m].shape[1]
            parts = [view.own[name][:, i, None].expand(-1, length, -1) for name in ("s", "p")]
            if "n" in view.factors:
                parts.append(view.factors["n"][m])
            rebuilt = self.decoders[m](torch.cat(parts, dim=-1))
            terms.append(losses.token_mse(rebuilt, view.tokens[m].detach(), view.masks[m]))
        return torch.stack(terms).mean()


def blend_single_modality(fused: Tensor, unimodal: Tensor, present: Tensor) -> Tensor:
    """Where exactly one modality is present: the mean of the fused score and that modality's
    own score. Elsewhere: the fused score."""
    alone = (unimodal * present).sum(1)
    return torch.where(present.sum(1) == 1, (fused + alone) / 2, fused)
