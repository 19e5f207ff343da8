"""Build a model by name, or load any saved model from its folder or Hub repo id."""

import dataclasses
import json
import os
from pathlib import Path

import torch
from huggingface_hub import hf_hub_download
from torch import nn

from firf.errors import InputError
from firf.modalities import MODALITIES
from firf.model.baselines import LateFusion, SharedPrivate
from firf.model.config import FIRFConfig, LateFusionConfig, SharedPrivateConfig
from firf.model.firf import FIRF

# Every model by name: (model class, architecture overrides, loss overrides). The ablations
# switch one FIRF mechanism off each, except ``firf_no_rec_no_dcsd``, which switches off both
# ways a damaged view can learn from a complete one (to test whether they substitute for each
# other); the baselines are their own classes.
VARIANTS: dict[str, tuple[type[nn.Module], dict, dict]] = {
    "firf": (FIRF, {}, {}),
    "late_fusion": (LateFusion, {}, {}),
    "misa": (SharedPrivate, {}, {}),
    "firf_no_fcf": (FIRF, {"use_fcf": False}, {}),
    "firf_no_noise": (FIRF, {"use_noise": False}, {}),
    "firf_no_rec": (FIRF, {"use_reconstruction": False}, {}),
    "firf_no_dcsd": (FIRF, {}, {"lambda_kd": 0.0}),
    "firf_no_rec_no_dcsd": (FIRF, {"use_reconstruction": False}, {"lambda_kd": 0.0}),
    "firf_twoway": (FIRF, {}, {"kd_bidirectional": True}),
    "firf_no_summary_score": (FIRF, {"summary_score": False}, {}),
    # FIRF before 2026-12-02 (sessions 17, 18 and 20 moved on): s and p in slots of their
    # own, no summary score, a recovery that reads the other modalities' s alone: the layout
    # of demo checkpoints up to v6 (bundled until 2026-12-03), kept so they can be retrained.
    "firf_split": (
        FIRF,
        {"split_summaries": True, "summary_score": False, "recover_from_s": True},
        {},
    ),
}
MODEL_NAMES = tuple(VARIANTS)
CONFIGS: dict[type[nn.Module], type] = {
    FIRF: FIRFConfig,
    LateFusion: LateFusionConfig,
    SharedPrivate: SharedPrivateConfig,
}


def build_model(
    name: str, dims: dict[str, int], loss: dict | None = None, **overrides
) -> nn.Module:
    """A fresh model. ``dims`` maps each modality to its feature dim, e.g. MOSI
    ``{"text": 768, "audio": 5, "vision": 20}``; ``overrides`` set architecture fields
    (``score_range=1.0`` for SIMS, ``strides={"vision": 8}``, ``d_model=...``) and ``loss``
    the fields of the model's loss config (``{"lambda_kd": 0.2}``)."""
    if name not in VARIANTS:
        raise InputError(f"unknown model '{name}'; choose one of {', '.join(MODEL_NAMES)}")
    missing = [m for m in MODALITIES if m not in dims]
    if missing:
        raise InputError(f"dims lacks {missing}; give a feature dim for each of {MODALITIES}")
    model_class, architecture, loss_fields = VARIANTS[name]
    fields = {f"{m}_dim": int(dims[m]) for m in MODALITIES}
    model = model_class(make_config(CONFIGS[model_class], fields, {**architecture, **overrides}))
    loss_fields = {**loss_fields, **(loss or {})}
    if loss_fields:
        if not hasattr(model, "loss_config"):
            raise InputError(f"'{name}' has no loss options (it trains on the task loss alone)")
        model.loss_config = make_config(type(model.loss_config), {}, loss_fields)
    return model


def make_config(config_class: type, fields: dict, overrides: dict):
    known = {f.name for f in dataclasses.fields(config_class)} - {"model_type"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(
            f"{config_class.__name__} has no option {unknown}; known: {', '.join(sorted(known))}"
        )
    return config_class(**{**fields, **overrides})


def load_model(path_or_repo_id: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a saved FIRF, LateFusion or SharedPrivate model (config.json + model.safetensors)
    from a folder or a Hugging Face Hub repo id, in eval mode."""
    source = str(path_or_repo_id)
    if os.path.isdir(source):
        config_path = Path(source) / "config.json"
        if not config_path.is_file():
            raise InputError(f"{source} has no config.json; it is not a saved FIRF model")
    else:
        try:
            config_path = Path(hf_hub_download(repo_id=source, filename="config.json"))
        except Exception as error:  # offline, unknown repo, malformed id: all mean "not found"
            raise InputError(
                f"no model at '{source}': not a folder here, and no Hub repo could be read "
                f"({type(error).__name__}). Pass a folder holding config.json and "
                "model.safetensors, or a Hub repo id while online."
            ) from error
    model_type = json.loads(config_path.read_text()).get("model_type")
    classes = {config.model_type: model for model, config in CONFIGS.items()}
    if model_type not in classes:
        raise InputError(
            f"{config_path} has model_type {model_type!r}; expected one of {', '.join(classes)}"
        )
    return classes[model_type].from_pretrained(source, map_location=str(device))
