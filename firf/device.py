"""The one place that decides where models run."""

from __future__ import annotations

import torch

from firf.errors import InputError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, checked; CUDA when present and nothing was requested, else CPU.

    A misspelt device or CUDA on a machine without a GPU is an ``InputError`` here, at the
    boundary, instead of a torch traceback deep inside a model.
    """
    if device is None or device == "":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InputError(f"unknown device {str(device)!r}: use cpu, cuda or cuda:N") from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {str(device)!r} asked for, but no CUDA GPU is available here")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise InputError(
                f"device {str(device)!r} does not exist: {torch.cuda.device_count()} GPU(s) here"
            )
    elif resolved.type not in ("cpu", "mps"):
        raise InputError(f"device {str(device)!r} is not supported: use cpu or cuda")
    return resolved
