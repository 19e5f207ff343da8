"""Example inputs for the demo, generated at start-up from assets that installed packages carry.

Nothing is downloaded and nothing is committed: the face is scikit-image's public-domain
astronaut photo animated into a short clip, the speech comes from espeak-ng when it is installed
(a Debian package; on a Hugging Face Space through packages.txt). Without either, the typed-text
examples still work, so the demo never fails to start over a missing example asset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools import espeak, media

log = logging.getLogger(__name__)

ALL_MODALITIES = ["text", "audio", "vision"]
# Bump when the generated media change, so stale caches are not reused.
MEDIA_VERSION = 2
TIMELINE_EXAMPLE = "16 s talk: its timeline; the face leaves"
LONG_TALK_SECONDS = 16.0
CLIP_FPS = 10
CLIP_SIZE = 256

POSITIVE_SPEECH = "I really loved this film. The story was wonderful and the acting was great."
NEGATIVE_TEXT = "A dull, painful waste of two hours."
NEGATIVE_SPEECH = "Honestly, that was terrible. A boring and painful waste of my evening."


@dataclass(frozen=True)
class Example:
    """One row of the examples table, in the order of the UI's input components."""

    label: str
    video: str | None
    audio: str | None
    text: str
    modalities: list[str]
    intra_rate: float = 0.0

    def row(self) -> list:
        return [self.video, self.audio, self.text, self.modalities, self.intra_rate]


def build_examples(cache_dir: Path) -> list[Example]:
    """Typed-text examples always; face and speech examples when their assets are available."""
    examples = [
        Example(
            "Typed: positive",
            None,
            None,
            "What a wonderful, heartfelt movie. I loved it.",
            ALL_MODALITIES,
        ),
        Example("Typed: negative", None, None, NEGATIVE_TEXT, ALL_MODALITIES),
    ]
    folder = cache_dir / f"examples-v{MEDIA_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    face = _astronaut()
    has_speech = espeak.available()
    if not has_speech:
        log.info("espeak-ng not found: the demo starts without its speech examples")
    if face is None:
        log.info("scikit-image not installed: the demo starts without its face examples")

    if has_speech:
        positive = _cached(folder / "speech_positive.wav", lambda p: speak(POSITIVE_SPEECH, p))
        negative = _cached(folder / "speech_negative.wav", lambda p: speak(NEGATIVE_SPEECH, p))
        # The words come from Whisper's transcript. Not the voice alone: espeak-ng speaks without
        # feeling, and the audio branch reads its words too weakly to be trusted (model card).
        examples.append(
            Example("Speech, text from its transcript", None, str(negative), "", ["text", "audio"])
        )
        if face is not None:
            talking = _cached(folder / "face_speech.mp4", lambda p: face_clip(p, face, positive))
            examples += [
                Example(
                    "Face + speech (text from the transcript)",
                    str(talking),
                    None,
                    "",
                    ALL_MODALITIES,
                ),
                Example(
                    "Face + speech, text switched off", str(talking), None, "", ["audio", "vision"]
                ),
                Example(
                    "Face + speech, 40% of frames and tokens dropped",
                    str(talking),
                    None,
                    "",
                    ALL_MODALITIES,
                    0.4,
                ),
                # The modalities disagree: the explanation shows who pulls which way.
                Example(
                    "Smiling face, kind voice, harsh typed words",
                    str(talking),
                    None,
                    NEGATIVE_TEXT,
                    ALL_MODALITIES,
                ),
            ]
            talk = _cached(folder / "long_talk.mp4", lambda p: long_talk(p, positive, negative))
            examples.append(
                Example(TIMELINE_EXAMPLE, str(talk), None, "", ALL_MODALITIES),
            )
    if face is not None and not has_speech:
        silent = _cached(folder / "face.mp4", lambda p: face_clip(p, face, None, seconds=3.0))
        examples.append(
            Example(
                "Face + typed text",
                str(silent),
                None,
                "It was fine, I suppose. Nothing special.",
                ALL_MODALITIES,
            )
        )
    return examples


def long_talk(path: Path, first: Path, second: Path, seconds: float = LONG_TALK_SECONDS) -> Path:
    """A clip long enough for a timeline: praise, a pause, a complaint, over a face that leaves
    the picture halfway (the faceless coffee cup takes its place)."""
    rate, praise = media.read_wav(first)
    _, complaint = media.read_wav(second)
    pause = np.zeros(int(2.5 * rate), np.int16)
    pcm = np.concatenate([pause[: rate // 2], praise, pause, complaint])
    pcm = np.pad(pcm, (0, max(0, int(seconds * rate) - pcm.size)))[: int(seconds * rate)]
    track = media.write_wav(path.with_suffix(".wav"), pcm.astype(np.float32) / 32768, rate)
    return media.face_in_and_out_clip(path, seconds, lambda t: t < seconds / 2, audio_wav=track)


def speak(text: str, path: Path) -> Path:
    """Synthesize `text` with espeak-ng into a wav file (22.05 kHz mono)."""
    return espeak.speak_to_wav(text, path)


def face_clip(path: Path, face: np.ndarray, speech: Path | None, seconds: float = 0.0) -> Path:
    """An H.264/AAC mp4 of `face` slowly drifting and zooming, as long as `speech` (or `seconds`).

    The motion makes every frame different, as in a real webcam recording, so the face tracker
    is really exercised.
    """
    if speech is not None:
        rate, pcm = media.read_wav(speech)
        seconds = max(seconds, len(pcm) / rate + 0.3)
    frames = [_moving_view(face, index / CLIP_FPS) for index in range(round(seconds * CLIP_FPS))]
    return media.write_clip(path, frames, CLIP_FPS, speech, "mp4")


def _astronaut() -> np.ndarray | None:
    try:
        from skimage import data
    except ImportError:
        return None
    return data.astronaut()


def _cached(path: Path, make) -> Path:
    """Generate `path` once; write to a temporary name first so a crash leaves no half file."""
    if path.exists():
        return path
    partial = path.with_name(f"partial-{path.name}")
    make(partial)
    partial.replace(path)
    return path


def _moving_view(image: np.ndarray, t: float) -> np.ndarray:
    """A square nearest-neighbour crop of `image` that drifts and zooms with time `t` (seconds)."""
    h, w = image.shape[:2]
    zoom = 1.0 + 0.06 * np.sin(2 * np.pi * 0.5 * t)
    cy = h * (0.27 + 0.02 * np.sin(2 * np.pi * 0.3 * t))  # the astronaut's face sits above centre
    cx = w * (0.42 + 0.02 * np.cos(2 * np.pi * 0.3 * t))
    span = 0.5 * min(h, w) / zoom
    offsets = (np.arange(CLIP_SIZE) + 0.5) / CLIP_SIZE - 0.5
    rows = np.clip((cy + offsets * span).astype(int), 0, h - 1)
    cols = np.clip((cx + offsets * span).astype(int), 0, w - 1)
    return np.ascontiguousarray(image[rows[:, None], cols[None, :]])
