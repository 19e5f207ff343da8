"""The video forms a caller may pass, turned into one sampled ``VideoClip``.

A file path is decoded with PyAV; frames in memory are sampled at the extractor's frame rate,
from ``(frame_rate, frames)`` when the caller says how fast they were taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from firf.errors import InputError
from firf.extract.decode import VideoClip, load_video

VideoInput = str | Path | np.ndarray | Sequence[np.ndarray] | tuple[float, Sequence[np.ndarray]]


def sample_video(video: VideoInput, fps: float, max_seconds: float) -> VideoClip:
    """``video`` sampled at ``fps`` over at most ``max_seconds``."""
    if isinstance(video, (str, Path)):
        return load_video(video, fps=fps, max_seconds=max_seconds, with_audio=False)
    rate = fps
    if isinstance(video, tuple) and len(video) == 2 and np.isscalar(video[0]):
        rate, video = float(video[0]), video[1]
        if rate <= 0:
            raise InputError(f"the frame rate of (frame_rate, frames) must be > 0, got {rate}")
    if (
        not isinstance(video, (np.ndarray, list, tuple))
        or len(video) == 0
        or (isinstance(video, np.ndarray) and video.ndim != 4)
    ):
        raise InputError(
            "video must be a file path, frames (N, H, W, 3) uint8 or (frame_rate, frames)"
        )
    duration = min(len(video) / rate, max_seconds)
    times = np.arange(0.0, duration - 1e-9, 1.0 / fps)
    frames = [np.asarray(video[int(t * rate)]) for t in times]
    return VideoClip(frames, times, None, duration, fps)
