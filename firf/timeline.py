"""Sentiment over time: a long clip scored piece by piece, each modality on its own line.

A recording of up to ``TIMELINE_SECONDS`` is cut into segments that tile it: one per utterance
(a stretch of sound between pauses of at least ``MIN_PAUSE`` seconds, so each is one sentence
or a few), and fixed windows of about ``WINDOW_SECONDS`` over the quiet stretches where nobody
speaks (or over the whole clip when it has no sound). Every segment then goes through the same
steps as a short clip does in ``firf.predict``: Whisper's features and transcript of that
utterance alone, Face Mesh on its frames, MiniLM on its words. It is scored with every kept
modality (the point's ``score``) and with each modality alone (its line), so switching one
modality off changes only the combined score and that modality's line.

Utterances are found from loudness rather than from Whisper's segment timestamps: on a test
recording of six sentences separated by long pauses, Whisper's 30-second windows put a 2-second
sentence at 0-22 s, invented a "you" in the silence, and took 18 s on one core, while the
pauses between sentences are plain in the signal.

Memory stays bounded: the clip is cut at ``TIMELINE_SECONDS``, frames are decoded at most
``FRAME_SIDE`` pixels wide (Face Mesh works on frames that size anyway), and only one
segment's features are extracted at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from firf.errors import InputError
from firf.extract.decode import SAMPLE_RATE, load_audio, load_video
from firf.features import Features
from firf.modalities import MODALITIES
from firf.prediction import Prediction

# ``pipeline`` below is a ``firf.pipeline.Pipeline``; it is passed in rather than imported,
# since the pipeline's ``predict`` calls this module.
Pipeline = Any

TIMELINE_SECONDS = 180.0  # longest stretch of a recording a timeline covers
WINDOW_SECONDS = 5.0  # length of the windows over quiet stretches
MIN_PAUSE = 0.7  # seconds of quiet that end an utterance (longer than a comma in speech)
MIN_SOUND = 0.2  # louder stretches shorter than this are clicks, not speech
MAX_UTTERANCE = 20.0  # longer stretches of sound are split into equal parts
QUIET_BELOW = 0.1  # quiet = below this share of the loud level (-20 dB)
STEP = 0.02  # seconds per loudness measurement
FRAME_SIDE = 320  # frames are decoded at most this wide


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    speech: bool  # an utterance (True) or a window over a quiet stretch


def predict_timeline(
    pipeline: Pipeline,
    video: str | Path | None,
    audio: Any,
    text: str | None,
    drop: tuple[str, ...],
    transcript: bool = False,
    subsets: bool = False,
    max_seconds: float = TIMELINE_SECONDS,
) -> Prediction:
    """The whole clip's prediction with ``timeline`` filled (see ``firf.predict``).

    The overall score is the model's on the whole clip, assembled from the segments' features
    (every frame, all the speech's states, the words of every utterance).
    """
    if text is not None and text.strip():
        raise InputError(
            "a timeline scores the words spoken in each segment; typed text has no time in the "
            "clip, so leave it out (or predict without timeline)"
        )
    if video is None and audio is None:
        raise InputError("a timeline needs a video or an audio recording")
    if video is not None and not isinstance(video, (str, Path)):
        raise InputError("for a timeline, give the video as a file path")
    started = perf_counter()
    wave, frames, duration, warnings = _decode(pipeline, video, audio, drop, max_seconds)
    decoded = perf_counter() - started
    points, pieces = [], []
    for segment in split(wave, duration):
        piece = _segment_features(pipeline, segment, wave, frames, drop, transcript)
        if piece is None:
            continue
        pieces.append(piece)
        points.append(_point(pipeline, segment, piece, drop))
    if not pieces:
        raise InputError("nothing to analyse: no face, no sound and no words in the whole clip")
    whole = _whole(pipeline, pieces, wave, frames)
    whole.timings["decode"] = decoded + whole.timings.get("decode", 0.0)
    whole.warnings = warnings + [
        f"{m} missing: not found anywhere in the clip"
        for m in _given(video, audio, wave)
        if m not in drop and m not in whole.available
    ]
    prediction = pipeline.run(whole, drop=drop)
    prediction.timeline = points
    if subsets:
        prediction.subsets = pipeline.run_subsets(whole)
    return prediction


def split(wave: np.ndarray | None, duration: float) -> list[Segment]:
    """Segments tiling [0, duration]: utterances, and windows over the quiet between them."""
    spoken = utterances(wave) if wave is not None else []
    segments: list[Segment] = []
    cursor = 0.0
    for start, end in spoken:
        segments += _windows(cursor, start)
        segments.append(Segment(max(cursor, start), end, True))
        cursor = end
    segments += _windows(cursor, duration)
    return [s for s in segments if s.end - s.start > 1e-3]


def utterances(wave: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of each stretch of sound, pauses of ``MIN_PAUSE`` s between them.

    Each utterance keeps half of the pause on either side when the pause is short, and
    ``MIN_PAUSE / 2`` of it otherwise, so Whisper hears its onset and its end.
    """
    from firf.extract.audio import SILENCE_RMS

    step = round(STEP * SAMPLE_RATE)
    count = wave.size // step
    if count == 0:
        return []
    blocks = wave[: count * step].reshape(count, step).astype(np.float64)
    level = np.sqrt(np.mean(blocks**2, axis=1))
    loud = level > max(SILENCE_RMS, QUIET_BELOW * float(np.percentile(level, 95)))
    runs = _runs(loud)
    runs = [(a, b) for a, b in _merge(runs, round(MIN_PAUSE / STEP)) if b - a >= MIN_SOUND / STEP]
    margin = MIN_PAUSE / 2
    total = wave.size / SAMPLE_RATE
    found: list[tuple[float, float]] = []
    for index, (a, b) in enumerate(runs):
        start = max(0.0, a * STEP - margin)
        end = min(total, b * STEP + margin)
        if found:
            start = max(start, found[-1][1])
        if index + 1 < len(runs):
            end = min(end, (b + runs[index + 1][0]) * STEP / 2)
        parts = int(np.ceil((end - start) / MAX_UTTERANCE))
        edges = np.linspace(start, end, parts + 1)
        found += [(float(s), float(e)) for s, e in zip(edges[:-1], edges[1:], strict=True)]
    return found


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges where ``flags`` is True."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def _merge(runs: list[tuple[int, int]], min_gap: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _windows(start: float, end: float) -> list[Segment]:
    """Equal windows of about ``WINDOW_SECONDS`` over [start, end]."""
    if end - start <= 1e-3:
        return []
    count = max(1, round((end - start) / WINDOW_SECONDS))
    edges = np.linspace(start, end, count + 1)
    return [Segment(float(a), float(b), False) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _decode(
    pipeline: Pipeline,
    video: str | Path | None,
    audio: Any,
    drop: tuple[str, ...],
    max_seconds: float,
) -> tuple[np.ndarray | None, list[np.ndarray], float, list[str]]:
    """16 kHz sound (None without any), frames at the pipeline's rate, duration, warnings."""
    wave, frames, duration = None, [], 0.0
    if audio is not None:
        wave = load_audio(audio, max_seconds)
    if video is not None:
        clip = load_video(
            video, fps=pipeline.extractors.fps, max_seconds=max_seconds, max_side=FRAME_SIDE
        )
        frames, duration = ([] if "vision" in drop else clip.frames), clip.duration
        wave = wave if audio is not None else clip.audio
    if wave is not None:
        duration = max(duration, wave.size / SAMPLE_RATE)
    warnings = []
    if duration >= max_seconds - 1e-3:
        warnings.append(f"the timeline covers only the first {max_seconds:g} s of the input")
    return wave, frames, min(duration, max_seconds), warnings


def _segment_features(
    pipeline: Pipeline,
    segment: Segment,
    wave: np.ndarray | None,
    frames: list[np.ndarray],
    drop: tuple[str, ...],
    transcript: bool,
) -> Features | None:
    """The segment's features as ``Pipeline.features`` makes them; None with nothing in it."""
    rate = pipeline.extractors.fps
    first, last = int(np.ceil(segment.start * rate - 1e-6)), int(np.ceil(segment.end * rate - 1e-6))
    shown = frames[first:last]
    sound = None
    if wave is not None:
        sound = wave[round(segment.start * SAMPLE_RATE) : round(segment.end * SAMPLE_RATE)]
    try:
        return pipeline.features(
            video=(rate, shown) if shown else None,
            audio=(SAMPLE_RATE, sound) if sound is not None and sound.size else None,
            skip=drop,
            transcript=transcript,
        )
    except InputError:  # silence without a face (or everything there switched off)
        return None


def _point(pipeline: Pipeline, segment: Segment, piece: Features, drop: tuple[str, ...]) -> dict:
    """One timeline entry: the combined score and each modality's score alone."""
    alone: dict[str, float | None] = dict.fromkeys(MODALITIES)
    for m in piece.available:
        if m not in drop:
            alone[m] = pipeline.run(piece, drop=[o for o in MODALITIES if o != m]).score
    return {
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "score": pipeline.run(piece, drop=drop).score,
        "modalities": alone,
    }


def _whole(
    pipeline: Pipeline, pieces: list[Features], wave: np.ndarray | None, frames: list
) -> Features:
    """The whole clip's features from its segments' (no second pass over the media)."""
    whole = Features()
    for m in ("audio", "vision"):
        parts = [p for p in pieces if m in p.arrays]
        if parts:
            whole.arrays[m] = np.concatenate([p.arrays[m] for p in parts])
            whole.signature[m] = parts[0].signature[m]
            if m == "vision":
                whole.masks[m] = np.concatenate([p.masks[m] for p in parts])
    if any(p.transcript is not None for p in pieces):  # Whisper's decoder ran
        whole.transcript = " ".join(p.transcript for p in pieces if p.transcript)
    words = " ".join(p.transcript for p in pieces if "text" in p.arrays and p.transcript)
    if words:
        whole.arrays["text"] = pipeline.extractors.text(words)
        whole.signature["text"] = next(p.signature["text"] for p in pieces if "text" in p.signature)
        whole.text_source = "transcript"
        whole.coverage["text"] = {"tokens": len(whole.arrays["text"])}
    if wave is not None:
        whole.coverage["audio"] = {"seconds": round(wave.size / SAMPLE_RATE, 3)}
    if frames:
        found = [p.coverage["vision"] for p in pieces if "vision" in p.coverage]
        faces = sum(c["face_share"] * c["frames"] for c in found)
        whole.coverage["vision"] = {"frames": len(frames), "face_share": faces / len(frames)}
    whole.frames = [f for p in pieces for f in p.frames or []] or None
    whole.landmarks = [points for p in pieces for points in p.landmarks]
    for p in pieces:
        for step, seconds in p.timings.items():
            whole.timings[step] = whole.timings.get(step, 0.0) + seconds
    return whole


def _given(video: Any, audio: Any, wave: np.ndarray | None) -> Iterable[str]:
    if wave is not None:
        yield "text"
        yield "audio"
    if video is not None:
        yield "vision"
