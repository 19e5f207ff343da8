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

MODEL_NAMES = (
    "firf",
    "late_fusion",
    "misa",
    "firf_no_fcf",
    "firf_no_noise",
    "firf_no_rec",
    "firf_no_dcsd",
    "firf_oneway",
)


def build_model(name: str, dims: dict[str, int], **overrides) -> nn.Module:
    """A fresh model. ``dims`` maps each modality to its feature dim, e.g. MOSI
    ``{"text": 768, "audio": 5, "vision": 20}``; ``overrides`` set config fields
    (``score_range=1.0`` for SIMS, ``strides={"vision": 8}``, ``d_model=...``)."""
    missing = [m for m in MODALITIES if m not in dims]
    if missing:
        raise InputError(f"dims lacks {missing}; give a feature dim for each of {MODALITIES}")
    fields = {f"{m}_dim": int(dims[m]) for m in MODALITIES}

    if name == "late_fusion":
        return LateFusion(make_config(LateFusionConfig, fields, overrides))
    if name == "misa":
        return SharedPrivate(make_config(SharedPrivateConfig, fields, overrides))
    if name == "firf":
        ablation = {}
    elif name == "firf_no_fcf":
        ablation = {"use_fcf": False}
    elif name == "firf_no_noise":
        ablation = {"use_noise": False}
    elif name == "firf_no_rec":
        ablation = {"use_reconstruction": False}
    elif name == "firf_no_dcsd":
        ablation = {"use_dcsd": False}
    elif name == "firf_oneway":
        ablation = {"dcsd_bidirectional": False}
    else:
        raise InputError(f"unknown model '{name}'; choose one of {', '.join(MODEL_NAMES)}")
    return FIRF(make_config(FIRFConfig, fields, {**ablation, **overrides}))


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
    if model_type == "firf":
        model_class = FIRF
    elif model_type == "late_fusion":
        model_class = LateFusion
    elif model_type == "misa":
        model_class = SharedPrivate
    else:
        raise InputError(
            f"{config_path} has model_type {model_type!r}; expected firf, late_fusion or misa"
        )
    return model_class.from_pretrained(source, map_location=str(device))
