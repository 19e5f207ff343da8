"""Decode user media into what the extractors consume: 16 kHz mono audio and RGB frames.

Everything goes through PyAV (FFmpeg's libraries inside the wheel), so browsers' webm/Opus,
phone mp4/AAC, mp3 and wav all decode without an ``ffmpeg`` binary on the machine. Resampling
uses torchaudio for files and arrays alike, so the same sound yields the same samples whichever
way it arrives. Long inputs are cut to ``max_seconds`` with a warning: the demo and
``firf.predict`` analyse short utterances, and an hour-long upload must not exhaust memory.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
import torchaudio.functional

from firf.errors import InputError

SAMPLE_RATE = 16_000  # what Whisper expects
MAX_SECONDS = 60.0  # default cap on the analysed duration of one input
VIDEO_FPS = 5.0  # frames sampled per second of video: the vision extractor's one default
MAX_SIDE = 640  # frames are downscaled so their longer side is at most this many pixels
_MAX_CHANNELS = 8  # a 2-D array with more "channels" than this is read as (channels, samples)
_MAX_KERNEL_TERM = 1000  # reduced ratios to 16 kHz with larger terms skip torchaudio's kernel
MIN_RATE, MAX_RATE = 1_000, 384_000  # sample rates accepted, Hz
_MAX_DECODED_FRAMES_PER_SECOND = 1_000  # video frames decoded per analysed second, at most

AudioSource = str | Path | bytes | tuple[int, np.ndarray] | np.ndarray


@dataclass
class VideoClip:
    """Frames sampled at a fixed rate from a video, plus its sound track.

    ``frames[i]`` is the picture shown at ``timestamps[i]`` seconds (RGB uint8, H×W×3);
    ``audio`` is 16 kHz mono float32 or None when the file has no sound track; ``duration`` is
    the analysed length in seconds (after any cap).
    """

    frames: list[np.ndarray]
    timestamps: np.ndarray
    audio: np.ndarray | None
    duration: float
    fps: float


def load_audio(source: AudioSource, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """16 kHz mono float32 samples from a file path, encoded bytes, or an array.

    Arrays come as Gradio gives them, ``(sample_rate, samples)`` with int16 / int32 / float
    samples shaped (n,) or (n, channels), or as a bare 1-D float array that is taken to be
    16 kHz already. Input longer than `max_seconds` is cut with a warning.
    """
    if max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive; got {max_seconds}")
    if isinstance(source, (str, Path)):
        rate, samples = _decode_audio_file(_existing_file(source), max_seconds)
    elif isinstance(source, (bytes, bytearray)):
        rate, samples = _decode_audio_file(io.BytesIO(source), max_seconds)
    elif isinstance(source, tuple) and len(source) == 2:
        rate, samples = _rate(source[0]), _array_to_mono(source[1])
    elif isinstance(source, np.ndarray):
        rate, samples = SAMPLE_RATE, _array_to_mono(source)
    else:
        raise InputError(
            "audio must be a file path, encoded bytes, a (sample_rate, samples) tuple or a "
            f"1-D float array at 16 kHz; got {type(source).__name__}"
        )
    limit = int(max_seconds * rate)
    if samples.size > limit:
        warnings.warn(
            f"the audio is {samples.size / rate:.1f} s long; only the first {max_seconds:g} s "
            "are analysed",
            stacklevel=2,
        )
    return _to_16k(_checked(samples[:limit]), rate)


def load_video(
    path: str | Path,
    fps: float = VIDEO_FPS,
    max_seconds: float = MAX_SECONDS,
    max_side: int = MAX_SIDE,
    with_audio: bool = True,
) -> VideoClip:
    """Frames sampled every 1/`fps` seconds (the picture on screen at that moment) and the audio.

    Sampling by time rather than by frame index keeps the rate fixed for variable-frame-rate
    webcam recordings. Frames are turned upright when the file says the camera was rotated.
    ``duration`` is the video track's; the sound track is kept whole up to `max_seconds`, or
    left out (``with_audio=False``) when ``sound_track`` reads it in parallel.
    """
    if fps <= 0 or max_seconds <= 0:
        raise ValueError(f"fps and max_seconds must be positive; got {fps}, {max_seconds}")
    if not isinstance(path, (str, Path)):
        raise InputError(f"video must be a file path; got {type(path).__name__}")
    path = _existing_file(path)
    with _open(path) as container:
        if not container.streams.video:
            raise InputError(f"{path.name} has no video track; pass it as audio instead")
        frames, timestamps, duration, cut = _sample_frames(container, fps, max_seconds, max_side)
        has_audio = with_audio and bool(container.streams.audio)
    if not frames:
        raise InputError(f"no video frame could be decoded from {path.name}; it may be damaged")
    audio = None
    if has_audio:
        rate, samples = _decode_audio_file(path, max_seconds)
        limit = int(max_seconds * rate)
        cut = cut or samples.size > limit
        audio = _to_16k(_checked(samples[:limit]), rate) if samples.size else None
    if cut:
        warnings.warn(
            f"{path.name} is longer than {max_seconds:g} s; only the first {max_seconds:g} s "
            "are analysed",
            stacklevel=2,
        )
    return VideoClip(frames, np.asarray(timestamps), audio, duration, float(fps))


def sound_track(path: str | Path, max_seconds: float = MAX_SECONDS) -> np.ndarray | None:
    """16 kHz mono samples of a media file's sound track; None when it has none."""
    path = _existing_file(path)
    with _open(path) as container:
        if not container.streams.audio:
            return None
    return load_audio(path, max_seconds)


def _existing_file(source: str | Path) -> Path:
    path = Path(source).expanduser()
    if str(source) == "" or not path.is_file():
        raise InputError(f"no such file: {str(source)!r}")
    return path


def _open(source: Path | io.BytesIO) -> av.container.InputContainer:
    name = source.name if isinstance(source, Path) else "the uploaded data"
    try:
        return av.open(source if isinstance(source, io.BytesIO) else str(source))
    except (av.FFmpegError, UnicodeDecodeError) as error:
        raise InputError(
            f"could not read {name}: it is not a media file FFmpeg understands, or it is damaged "
            f"({error.__class__.__name__})"
        ) from error


def _decode_audio_file(source: Path | io.BytesIO, max_seconds: float) -> tuple[int, np.ndarray]:
    """(native rate, mono float32) of the first audio track, decoding a little past `max_seconds`."""
    name = source.name if isinstance(source, Path) else "the uploaded data"
    with _open(source) as container:
        if not container.streams.audio:
            raise InputError(f"{name} has no audio track")
        stream = container.streams.audio[0]
        # Planar float at the native rate and layout: channels are averaged below, the same way
        # as for arrays, and the rate is changed by torchaudio. The rate is the decoded one (a
        # container may declare none); a change of rate mid-stream ends the track there.
        to_float = av.AudioResampler(format="fltp")
        rate: int | None = None
        chunks, total, limit = [], 0, 0
        try:
            for frame in container.decode(stream):
                if rate is None:
                    rate = _supported_rate(frame.sample_rate, name)
                    limit = int(max_seconds * rate) + 1
                elif frame.sample_rate != rate:
                    break
                for planar in to_float.resample(frame):
                    chunks.append(planar.to_ndarray().mean(axis=0))
                    total += chunks[-1].size
                if total > limit:
                    break
        except av.FFmpegError as error:
            raise InputError(
                f"the audio track of {name} is damaged and could not be decoded "
                f"({error.__class__.__name__})"
            ) from error
    if rate is None or not chunks:
        return SAMPLE_RATE, np.zeros(0, np.float32)
    return rate, np.concatenate(chunks)


def _sample_frames(
    container: av.container.InputContainer, fps: float, max_seconds: float, max_side: int
) -> tuple[list[np.ndarray], list[float], float, bool]:
    """Frames shown at t = 0, 1/fps, 2/fps, ..., the duration, and whether it was cut short.

    Each target time gets the latest frame shown at or before it.
    """
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    frames: list[np.ndarray] = []
    targets: list[float] = []
    start: float | None = None
    previous: av.VideoFrame | None = None
    last_time, step = 0.0, 1.0 / fps
    truncated = False
    budget = int(max_seconds * _MAX_DECODED_FRAMES_PER_SECOND)  # frames decoded, timed or not
    try:
        for decoded, frame in enumerate(container.decode(stream)):
            if decoded >= budget:
                truncated = True
                break
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            now = frame.time - start
            if now >= max_seconds:
                truncated = True
                break
            # Every target before this frame was showing the previous frame (or, before the
            # first frame, this one).
            while len(targets) * step < now - 1e-6:
                frames.append(_rgb(previous or frame, max_side))
                targets.append(len(targets) * step)
            previous, last_time = frame, now
    except av.FFmpegError as error:
        raise InputError(
            f"the video track of {Path(container.name).name} is damaged and could not be decoded "
            f"({error.__class__.__name__})"
        ) from error
    if previous is None:
        return [], [], 0.0, False
    # The last frame is shown for one frame period, as the stream declares it: never trusted
    # beyond `max_seconds` (a single frame may claim to last an hour).
    frame_period = 1.0 / float(stream.average_rate or fps)
    duration = last_time + frame_period
    if truncated or duration > max_seconds:
        duration, truncated = max_seconds, True
    last = _rgb(previous, max_side)  # one picture, shown at every remaining target
    while len(targets) * step < duration - 1e-6:
        frames.append(last)
        targets.append(len(targets) * step)
    return frames, targets, duration, truncated


def _rgb(frame: av.VideoFrame, max_side: int) -> np.ndarray:
    """Upright RGB uint8 array, downscaled so the longer side is at most `max_side`."""
    scale = min(1.0, max_side / max(frame.width, frame.height))
    width, height = (round(frame.width * scale) // 2 * 2, round(frame.height * scale) // 2 * 2)
    rgb = frame.to_ndarray(format="rgb24", width=width or 2, height=height or 2)
    quarter_turns = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


def _rate(value: object) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return _supported_rate(int(value), "the (sample_rate, samples) audio")
    raise InputError(
        f"the sample rate of (sample_rate, samples) audio must be a positive integer; got {value!r}"
    )


def _supported_rate(rate: int, name: str) -> int:
    """`rate`, or an InputError when it is outside what speech audio uses."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(
            f"{name} has a sample rate of {rate} Hz; supported rates are "
            f"{MIN_RATE:,}..{MAX_RATE:,} Hz"
        )
    return rate


def _array_to_mono(samples: object) -> np.ndarray:
    """float32 mono in [-1, 1] from int or float samples shaped (n,), (n, ch) or (ch, n)."""
    if not isinstance(samples, np.ndarray):
        if isinstance(samples, (list, tuple)) or hasattr(samples, "__array__"):
            samples = np.asarray(samples)
        else:
            raise InputError(f"audio samples must be an array; got {type(samples).__name__}")
    if samples.ndim == 2 and samples.shape[1] > _MAX_CHANNELS >= samples.shape[0]:
        samples = samples.T  # channel-first, as torchaudio and librosa lay it out
    if samples.ndim not in (1, 2) or (samples.ndim == 2 and samples.shape[1] == 0):
        raise InputError(
            f"audio samples must be shaped (samples,) or (samples, channels); got {samples.shape}"
        )
    if samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / float(2 ** (8 * samples.dtype.itemsize - 1))
    elif samples.dtype.kind == "u":
        middle = float(2 ** (8 * samples.dtype.itemsize - 1))
        samples = (samples.astype(np.float32) - middle) / middle
    elif samples.dtype.kind == "f":
        samples = samples.astype(np.float32)
    else:
        raise InputError(f"audio samples must be numbers; got dtype {samples.dtype}")
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def _checked(samples: np.ndarray) -> np.ndarray:
    if samples.size == 0:
        raise InputError("the audio is empty (zero samples); record or upload some sound")
    if not np.isfinite(samples).all():
        raise InputError("the audio contains NaN or infinite samples; check how it was produced")
    return samples


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """16 kHz samples; the kernel stays bounded whatever `rate` is.

    torchaudio's sinc kernel is (new, orig + 2 * width) for the reduced ratio orig/new: common
    rates (8k, 11.025k, 22.05k, 32k, 44.1k, 48k, 96k...) reduce to small terms and keep going
    through it, so their samples are unchanged. A rate whose ratio to 16 kHz reduces to large
    integers (11,127 Hz -> 11127/16000) would need gigabytes there; it goes through SciPy's
    polyphase filter instead, whose cost grows with the larger term, not with their product.
    """
    if rate == SAMPLE_RATE:
        return np.ascontiguousarray(samples, dtype=np.float32)
    divisor = math.gcd(rate, SAMPLE_RATE)
    up, down = SAMPLE_RATE // divisor, rate // divisor
    if max(up, down) <= _MAX_KERNEL_TERM:
        resampled = torchaudio.functional.resample(torch.from_numpy(samples), rate, SAMPLE_RATE)
        return np.ascontiguousarray(resampled.numpy(), dtype=np.float32)
    from scipy.signal import resample_poly

    return np.ascontiguousarray(resample_poly(samples, up, down), dtype=np.float32)
