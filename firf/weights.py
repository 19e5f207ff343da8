"""Which FIRF checkpoint to load: a folder, ``$FIRF_WEIGHTS``, the bundled one, or a Hub repo id.

A checkpoint is a folder with ``config.json`` and ``model.safetensors``. Nothing is downloaded
unless the caller names a Hugging Face Hub repo id (``firf.model.load_model`` fetches it, and
``HF_HUB_OFFLINE=1`` limits it to the local Hub cache).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from firf.errors import InputError

WEIGHTS_ENV = "FIRF_WEIGHTS"
BUNDLED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
CHECKPOINT_FILES = ("config.json", "model.safetensors")
# Fine-tuned MiniLM layers the checkpoint's text features come from (when its text signature
# names a ``tuned_layers`` digest): a few MB beside the weights instead of a second encoder.
TEXT_LAYERS_FILE = "text_layers.safetensors"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_weights(weights: str | Path | None = None) -> Path | str:
    """A checkpoint folder, or a Hub repo id (``owner/name``) left for the loader to fetch.

    Without `weights`: ``$FIRF_WEIGHTS`` when set, else the ``weights/`` folder of a source
    checkout.
    """
    if weights is None:
        weights = os.environ.get(WEIGHTS_ENV) or BUNDLED_WEIGHTS
        if weights == BUNDLED_WEIGHTS and not is_checkpoint(BUNDLED_WEIGHTS):
            raise InputError(
                f"no bundled checkpoint in {BUNDLED_WEIGHTS}: pass a checkpoint folder or Hub "
                f"repo id (weights=..., CLI --weights) or set {WEIGHTS_ENV}"
            )
    path = Path(weights).expanduser()
    if path.is_dir():
        if not is_checkpoint(path):
            raise InputError(
                f"{path} is not a FIRF checkpoint: it needs {' and '.join(CHECKPOINT_FILES)}"
            )
        return path
    if isinstance(weights, str) and _REPO_ID.match(weights) and not path.exists():
        return weights
    raise InputError(f"no checkpoint folder {str(weights)!r} (and not a Hub repo id owner/name)")


def text_layers_file(weights: Path | str) -> Path:
    """The checkpoint's tuned text layers: beside the weights, or fetched from its Hub repo
    (which ``HF_HUB_OFFLINE=1`` limits to the local Hub cache)."""
    if isinstance(weights, Path) or Path(weights).is_dir():
        return Path(weights) / TEXT_LAYERS_FILE
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(str(weights), TEXT_LAYERS_FILE))
    except Exception as error:  # offline, missing file, no such repo: one actionable line
        raise InputError(
            f"cannot get {TEXT_LAYERS_FILE} of {weights}: {type(error).__name__}"
        ) from None


def is_checkpoint(path: Path) -> bool:
    return all((path / name).is_file() for name in CHECKPOINT_FILES)
