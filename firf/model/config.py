"""What a checkpoint is: a config dataclass per model, saved as config.json next to safetensors.

Every field is JSON-able so ``save_pretrained`` / ``from_pretrained`` round-trip it exactly
(huggingface_hub turns a dataclass into a dict and back, one level deep, so configs stay flat).
``model_type`` names the class a config.json belongs to; ``firf.model.load_model`` reads it.
"""

import os
from dataclasses import dataclass, field
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
    """Fields every model shares: input dims, encoder size, output range, provenance."""

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
    # Standardise each input feature with the training split's per-dimension mean and std
    # (buffers saved with the weights, fitted by ``firf.train``). Raw extractor features span
    # very different scales: Face Mesh coordinates vary by ~0.01 around offsets near 1, a few
    # Whisper dims by 10x the rest, so without it a branch first has to learn the scaling a
    # linear probe gets for free. False builds no buffer (the tensors of older checkpoints).
    standardize_inputs: bool = False
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
        self.strides = {m: int(self.strides.get(m, 1)) for m in MODALITIES}
        sizes = {**self.dims(), "d_model": self.d_model, **self.strides}
        bad = [name for name, size in sizes.items() if size < 1]
        if bad:
            raise InputError(f"sizes must be positive integers: {bad}")
        if self.d_model % self.n_heads:
            raise InputError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.score_range <= 0:
            raise InputError(f"score_range must be positive, got {self.score_range}")

    def dims(self) -> dict[str, int]:
        """Feature dim per modality, in the batch's modality order."""
        return {"text": self.text_dim, "audio": self.audio_dim, "vision": self.vision_dim}


@dataclass
class FIRFConfig(ModelConfig):
    """FIRF: factorization (FCF), missing-semantics reconstruction and DCSD self-distillation."""

    fusion_layers: int = 1
    # Distribution head: bins spanning [-score_range, score_range]; targets are the label
    # smoothed by a Gaussian of this many bins' width.
    n_bins: int = 25
    dist_sigma_bins: float = 1.5
    # Loss weights (task losses of both views have weight 1).
    lambda_syn: float = 0.1
    lambda_het: float = 0.1
    lambda_rec: float = 0.1
    lambda_noise: float = 0.05
    lambda_miss: float = 0.5
    lambda_kd: float = 0.5
    lambda_dist: float = 0.2
    # Per-modality auxiliary task loss: a head per modality predicts the label from that
    # modality's own pooled summaries, so a branch learns even where others dominate the
    # fused view. 0 builds no heads (the parameter set of checkpoints saved before it).
    lambda_uni: float = 0.0
    # Tell fusion which summaries are reconstructions: a learned embedding per summary slot,
    # added in proportion to how much of the modality is missing. False builds no parameter.
    mark_reconstructed: bool = False
    # With exactly one modality present, output the mean of the fused score and that modality's
    # own head score (the head trained by lambda_uni). Fusion of one modality with two
    # reconstructions can lose part of that modality's evidence; its own head cannot. With two
    # or three modalities the fused score is used alone. No parameters, losses unchanged.
    blend_single_modality: bool = False
    kd_temperature: float = 2.0
    syn_temperature: float = 0.2
    # Ablation switches.
    use_fcf: bool = True
    use_noise: bool = True
    use_reconstruction: bool = True
    use_dcsd: bool = True
    dcsd_bidirectional: bool = True
    model_type: str = "firf"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_bins < 2:
            raise InputError(f"n_bins must be at least 2, got {self.n_bins}")
        if self.lambda_uni < 0:
            raise InputError(f"lambda_uni must be non-negative, got {self.lambda_uni}")
        if self.blend_single_modality and self.lambda_uni == 0:
            raise InputError(
                "blend_single_modality reads the per-modality heads, which only lambda_uni > 0 "
                "trains; set lambda_uni (e.g. 1.0)"
            )


@dataclass
class LateFusionConfig(ModelConfig):
    """Late fusion baseline: pooled per-modality encodings, concatenated, an MLP."""

    model_type: str = "late_fusion"


@dataclass
class SharedPrivateConfig(ModelConfig):
    """MISA-style shared/private baseline."""

    fusion_layers: int = 1
    cmd_moments: int = 5
    lambda_sim: float = 0.3
    lambda_diff: float = 0.3
    lambda_rec: float = 0.3
    model_type: str = "misa"


class HubModelMixin(PyTorchModelHubMixin):
    """PyTorchModelHubMixin that loads strictly and quietly.

    The stock loader accepts weights that do not match the model (strict=False leaves missing
    tensors at their random init) and prints to stdout, which would corrupt ``--json`` output.
    """

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
            raise InputError(
                f"{weights} does not match its config.json (wrong or damaged checkpoint): {error}"
            ) from error
        return model.to(map_location).eval()  # load_model fills tensors in place, on CPU
