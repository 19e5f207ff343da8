"""The benchmarks' test media, made offline: espeak-ng speech over scikit-image's astronaut.

A benchmark must not reach into ``tests/``; this is the one clip the latency benchmark times:
an H.264/AAC mp4 of the astronaut photo drifting and zooming (every frame differs, as in a
webcam recording) with a sentence spoken by espeak-ng, padded with silence to the clip length.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tools.espeak import speak_to_wav


def talking_clip(
    folder: Path, text: str, seconds: float, fps: int = 25, size: int = 480
) -> tuple[Path, Path]:
    """(clip.mp4, speech.wav): `seconds` of the moving face with `text` spoken from the start."""
    speech = speak_to_wav(text, folder / "speech.wav")
    with wave.open(str(speech), "rb") as source:
        rate = source.getframerate()
        pcm = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    samples = int(seconds * rate)
    pcm = np.pad(pcm, (0, max(0, samples - pcm.size)))[:samples]
    from skimage import data

    face = data.astronaut()
    path = folder / "clip.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio = out.add_stream("aac", rate=rate)
        for index in range(int(round(seconds * fps))):
            frame = av.VideoFrame.from_ndarray(_view(face, index / fps, size), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        _encode(out, audio, rate, pcm)
    return path, speech


def _view(image: np.ndarray, t: float, size: int) -> np.ndarray:
    """A square view of the whole photo that drifts and zooms slowly with time `t`."""
    h, w = image.shape[:2]
    zoom = 1.0 + 0.06 * np.sin(2 * np.pi * 0.5 * t)
    cy = h / 2 + 0.03 * h * np.sin(2 * np.pi * 0.3 * t)
    cx = w / 2 + 0.03 * w * np.cos(2 * np.pi * 0.3 * t)
    offsets = ((np.arange(size) + 0.5) / size - 0.5) * min(h, w) / zoom
    rows = np.clip((cy + offsets).astype(int), 0, h - 1)
    cols = np.clip((cx + offsets).astype(int), 0, w - 1)
    return np.ascontiguousarray(image[rows[:, None], cols[None, :]])


def _encode(out: av.container.OutputContainer, stream, rate: int, pcm: np.ndarray) -> None:
    source = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    source.sample_rate = rate
    resampler = av.AudioResampler(
        format=stream.codec_context.format,
        layout=stream.codec_context.layout,
        rate=stream.codec_context.sample_rate,
        frame_size=stream.codec_context.frame_size or 1024,
    )
    for frame in [*resampler.resample(source), *resampler.resample(None)]:
        out.mux(stream.encode(frame))
    out.mux(stream.encode())
