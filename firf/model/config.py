"""What a checkpoint is: a config dataclass per model, saved as config.json next to safetensors.

Every field is JSON-able so ``save_pretrained`` / ``from_pretrained`` round-trip it exactly
(huggingface_hub turns a dataclass into a dict and back, one level deep, so configs stay flat).
``model_type`` names the class a config.json belongs to; ``firf.model.load_model`` reads it.
"""

import os
import re
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import safetensors.torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download

from firf.errors import InputError
from firf.modalities import MODALITIES

WEIGHTS_NAME = "model.safetensors"


def _unit_strides() -> dict[str, int]:
    return dict.fromkeys(MODALITIES, 1)


@dataclass
class ModelConfig:
    """Architecture every model shares: input dims, encoder size, output range, provenance.

    Only what decides the parameters and the forward pass lives here (it is saved as
    config.json); loss weights and temperatures are training settings (``firf.model.losses``).
    """

    text_dim: int = 768
    audio_dim: int = 5
    vision_dim: int = 20
    d_model: int = 64
    n_heads: int = 4
    encoder_layers: int = 1
    dropout: float = 0.1
    # Frames averaged into one token per modality before attention. Fixed per modality (not
    # derived from the batch) so a sample's output never depends on how much padding it got.
    # SIMS vision runs 900+ frames; a stride of 8 keeps attention cheap there.
    strides: dict[str, int] = field(default_factory=_unit_strides)
    # Predictions are bounded to [-score_range, score_range]: 3.0 for MOSI/MOSEI, 1.0 for SIMS.
    score_range: float = 3.0
    # Signature of the feature extractors the checkpoint was trained with; opaque to the model,
    # compared by the prediction pipeline.
    extractor: dict | None = None
    model_type: str = "base"

    def __post_init__(self) -> None:
        expected = type(self).__dataclass_fields__["model_type"].default
        if self.model_type != expected:
            raise InputError(
                f"this config describes a '{self.model_type}' model, not '{expected}'; "
                "load the checkpoint with firf.model.load_model(path), which picks the class"
            )
        unknown = set(self.strides) - set(MODALITIES)
        if unknown:
            raise InputError(f"strides has unknown modalities {sorted(unknown)}; use {MODALITIES}")
        self.strides = {m: self.strides.get(m, 1) for m in MODALITIES}
        sizes = {**self.dims(), "d_model": self.d_model, "n_heads": self.n_heads, **self.strides}
        for layers in ("encoder_layers", "fusion_layers"):  # fusion_layers: FIRF and MISA
            if hasattr(self, layers):
                sizes[layers] = getattr(self, layers)
        bad = [n for n, size in sizes.items() if not isinstance(size, Integral) or size < 1]
        if bad:
            raise InputError(f"sizes must be positive integers: {bad}")
        if self.d_model % self.n_heads:
            raise InputError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if not isinstance(self.dropout, Real) or not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}")
        if not isinstance(self.score_range, Real) or self.score_range <= 0:
            raise InputError(f"score_range must be positive, got {self.score_range}")

    def dims(self) -> dict[str, int]:
        """Feature dim per modality, in the batch's modality order."""
        return {"text": self.text_dim, "audio": self.audio_dim, "vision": self.vision_dim}


@dataclass
class FIRFConfig(ModelConfig):
    """FIRF: factorization (FCF), missing-semantics reconstruction and a fusion Transformer.

    The three switches change the parameters, so they are architecture; the ablations that
    only change the loss (no DCSD, two-way distillation) are in ``FIRFLoss``.
    """

    # Half the baselines' width. FIRF adds a fusion Transformer and a wide readout to the
    # encoders; at 64 it overfits a small labelled set (benchmarks/BENCHMARKS.md, "Why FIRF
    # loses scarce"), and 32 scored better on both synthetic tracks' selection splits.
    d_model: int = 32
    fusion_layers: int = 1
    # Distribution head: bins spanning [-score_range, score_range].
    n_bins: int = 25
    use_fcf: bool = True  # factorize tokens into synergistic / heterogeneous (/ noisy) parts
    use_noise: bool = True  # the noisy factor (needs use_fcf)
    use_reconstruction: bool = True  # recover missing summaries from the present modalities
    # Fusion reads one summary per modality, s + p. True: s and p in separate slots, the layout
    # of FIRF before 2026-12-02 (the bundled demo checkpoint has it; docs/method.md says why
    # it changed).
    split_summaries: bool = False
    # A linear score read straight from the summary slots (each modality's pooled H_m, or its
    # recovery), added to the fused score before bounding: on few labels the fusion readout
    # loses label information a linear readout of the same summaries keeps. False: FIRF before
    # 2026-12-02 session 18 (the bundled demo checkpoint; docs/method.md, "A linear score").
    summary_score: bool = True
    # True: each recovery generator reads only the other modalities' s, not s and p, as FIRF
    # did before 2026-12-02 session 20 (the bundled demo checkpoint; docs/method.md, "Recovery
    # reads s and p"). Without FCF there is only s either way.
    recover_from_s: bool = False
    # Audio input dims from this index on feed a fixed linear "tone" readout, appended to the
    # audio frames as one more channel (``MaskedEncoder``; fitted before training by
    # ``firf.model.standardize.fit_audio_probe``). 512 with Whisper-base ``tone_layer`` features
    # reads the early block's half, where how something is said survives (docs/method.md,
    # "The tone readout"). None: no readout, as every FIRF before 2026-12-03 session 26.
    audio_probe_from: int | None = None
    # More than 1: the checkpoint is this many seeds of one recipe, trained apart and read as
    # the mean of their scores (``firf.model.ensemble``). Where data is thin, seeds disagree
    # more than recipes do, and a checkpoint that is one seed ships that seed's luck.
    members: int = 1
    model_type: str = "firf"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.n_bins, Integral) or self.n_bins < 2:
            raise InputError(f"n_bins must be an integer of at least 2, got {self.n_bins!r}")
        if not isinstance(self.members, Integral) or self.members < 1:
            raise InputError(f"members must be a positive integer, got {self.members!r}")


@dataclass
class LateFusionConfig(ModelConfig):
    """Late fusion baseline: pooled per-modality encodings, concatenated, an MLP."""

    model_type: str = "late_fusion"


@dataclass
class SharedPrivateConfig(ModelConfig):
    """MISA-style shared/private baseline."""

    fusion_layers: int = 1
    model_type: str = "misa"


# Loader error on a FIRF checkpoint of a retired layout (regular expression) -> why it no longer
# loads and what to do (``HubModelMixin.retired_weights``).
RETIRED_FIRF_WEIGHTS: dict[str, str] = {
    r"heterogeneity\.": "It was saved by a FIRF older than the heterogeneous factor P = H - S"
    " (it has per-modality heterogeneity encoders): retrain it with this version, or load"
    " it with the version that trained it.",
    # six summary rows of width d in the weights where this model has three of width d
    r"summary_embedding: copying a param with shape torch\.Size\(\[6, (\d+)\]\) from"
    r" checkpoint, the shape in current model is torch\.Size\(\[3, \1\]\)": "It was"
    " saved by a FIRF that fused s and p in separate summary"
    ' slots (before 2026-12-02): add "split_summaries": true to its config.json.',
    r'Missing key\(s\) in state_dict: .*"summary_score_head\.': "It was saved by a FIRF"
    " without the linear summary score (before 2026-12-02, session 18): add"
    ' "summary_score": false to its config.json.',
    # generators of the same width that read fewer inputs: the others' s alone
    r"recover_from\.text\.0\.weight: copying a param with shape torch\.Size\(\[(\d+), \d+\]\)"
    r" from checkpoint, the shape in current model is torch\.Size\(\[\1, \d+\]\)": "It"
    " was saved by a FIRF whose recovery read only the other modalities' s (before"
    ' 2026-12-02, session 20): add "recover_from_s": true to its config.json.',
}


class HubModelMixin(PyTorchModelHubMixin):
    """PyTorchModelHubMixin that loads strictly and quietly.

    The stock loader accepts weights that do not match the model (strict=False leaves missing
    tensors at their random init) and prints to stdout, which would corrupt ``--json`` output.
    """

    # Regular expression for the loader's error on a checkpoint of a retired layout -> why such
    # a checkpoint no longer loads; a refusal whose error matches says so. Patterns name the
    # layout exactly, so an unrelated mismatch (another width, say) gets no wrong hint.
    retired_weights: dict[str, str] = {}

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        **model_kwargs,
    ):
        if "config" not in model_kwargs:
            raise InputError(f"{model_id} has no config.json; it is not a FIRF checkpoint")
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            weights = Path(model_id) / WEIGHTS_NAME
        else:
            weights = Path(
                hf_hub_download(
                    repo_id=model_id,
                    filename=WEIGHTS_NAME,
                    revision=revision,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    token=token,
                    local_files_only=local_files_only,
                )
            )
        if not weights.is_file():
            raise InputError(f"{model_id} has a config.json but no {WEIGHTS_NAME}")
        try:
            safetensors.torch.load_model(model, str(weights), strict=True, device=map_location)
        except RuntimeError as error:
            hint = "".join(
                f" {why}"
                for pattern, why in cls.retired_weights.items()
                if re.search(pattern, str(error))
            )
            raise InputError(
                f"{weights} does not match its config.json (wrong or damaged checkpoint):"
                f"{hint} {error}"
            ) from error
        return model.to(map_location).eval()  # load_model fills tensors in place, on CPU
