"""From raw media to a FIRF prediction: decode, extract features once, run the model.

``Extractors`` turns a video / audio / text input into ``Features`` (what the corpus extractor
stores, what the app reuses across modality toggles); ``Pipeline`` adds the checkpoint and runs
it on those features with any modalities dropped. Models load lazily, once, under a lock, so
one pipeline serves concurrent requests.

What counts as a missing modality rather than an error: a video with no face when something
else is given, silent audio, empty typed text next to other inputs. Each one becomes a warning
and the modality reaches the model as missing. Nothing usable at all is an ``InputError``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch

from firf.batch import LONG, MODALITIES, batch_to, presence
from firf.errors import InputError
from firf.extract.decode import MAX_SECONDS, SAMPLE_RATE, VideoClip, load_audio, load_video
from firf.prediction import Prediction, sentiment_label

VideoInput = str | Path | np.ndarray | Sequence[np.ndarray] | tuple[float, Sequence[np.ndarray]]


def parse_modalities(names: str | Iterable[str]) -> tuple[str, ...]:
    """``"vision,a"`` or ``["t", "audio"]`` -> full names in batch order; unknown names raise."""
    if isinstance(names, str):
        names = names.split(",")
    elif not isinstance(names, Iterable):
        raise InputError(f"modalities to drop must be a list of names, got {names!r}")
    chosen = set()
    for raw in names:
        if not isinstance(raw, str):
            raise InputError(f"modality names must be strings, got {raw!r}")
        name = raw.strip().lower()
        if not name:
            continue
        name = LONG.get(name, name)
        if name not in MODALITIES:
            raise InputError(f"unknown modality {raw!r}: use text, audio, vision (or t, a, v)")
        chosen.add(name)
    return tuple(m for m in MODALITIES if m in chosen)


@dataclass
class Features:
    """One input's features, extracted once and reusable for any drop or subset.

    ``arrays`` holds only the modalities that have at least one observed frame; ``coverage``
    says how much of each extracted modality there was (text tokens, audio seconds, video
    frames and the share with a face).
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # modality -> (L, d)
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # modality -> (L,) where partial
    signature: dict[str, dict] = field(default_factory=dict)  # modality -> extractor signature
    transcript: str | None = None
    text_source: str | None = None  # "typed" | "transcript" | None
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    warnings: list[str] = field(default_factory=list)
    frames: list[np.ndarray] | None = None  # sampled video frames, for drawing
    landmarks: list[np.ndarray | None] = field(default_factory=list)  # per frame, for drawing

    @property
    def available(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.arrays)


class Extractors:
    """The three feature extractors, loaded on first use and shared by the whole process.

    ``whisper`` names the Whisper model (or a checkpoint path); ``text_from_transcript`` uses
    the speech transcript as the text when none is typed; ``concurrent`` runs Face Mesh and
    Whisper in two threads (both release the GIL for most of their work); ``transcribe=False``
    skips Whisper's decoder when the transcript is not needed as the text (corpus extraction
    with given text), which saves most of Whisper's time.
    """

    def __init__(
        self,
        device: str | torch.device | None = None,
        whisper: str = "base",
        text_from_transcript: bool = True,
        concurrent: bool = True,
        max_seconds: float = MAX_SECONDS,
        fps: float = 5.0,
        transcribe: bool = True,
    ):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.whisper = whisper
        self.text_from_transcript = text_from_transcript
        self.concurrent = concurrent
        self.max_seconds = max_seconds
        self.fps = fps
        self.transcribe = transcribe

    @property
    def vision(self):
        from firf.extract.vision import FaceMeshVision

        return _shared(FaceMeshVision, fps=self.fps)

    @property
    def audio(self):
        from firf.extract.audio import WhisperAudio

        return _shared(WhisperAudio, model=self.whisper, device=self.device)

    @property
    def text(self):
        from firf.extract.text import MiniLMText

        return _shared(MiniLMText, device=self.device)

    def signatures(self) -> dict[str, dict]:
        """Every extractor's signature (loads them all)."""
        return {m: _plain(getattr(self, m).signature) for m in MODALITIES}

    def features(
        self,
        video: VideoInput | None = None,
        audio: Any = None,
        text: str | None = None,
        skip: str | Iterable[str] = (),
    ) -> Features:
        """Decode and extract every given modality not in ``skip``.

        ``video``: a file path, frames (N, H, W, 3) uint8 at ``fps``, or ``(frame_rate,
        frames)``; its sound track is the audio unless ``audio`` is given. ``audio``: a path,
        encoded bytes, ``(rate, samples)`` or 16 kHz samples. ``text``: typed text; when it is
        empty, the transcript (``text_from_transcript``). A skipped modality is not extracted,
        except that speech is still transcribed when the transcript is the text.
        """
        skip = set(parse_modalities(skip))
        if text is not None and not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        typed = (text or "").strip()
        if video is None and audio is None and text is None:
            raise InputError("nothing to analyse: give a video, an audio recording or some text")
        out = Features()
        missing: list[tuple[str, str]] = []  # (modality, why) for given inputs that came out empty
        need_transcript = not typed and self.text_from_transcript and "text" not in skip
        need_wave = "audio" not in skip or need_transcript

        started = perf_counter()
        wave = None
        if audio is not None and need_wave:
            wave = load_audio(audio, self.max_seconds)
        clip = None
        if video is not None and ("vision" not in skip or (audio is None and need_wave)):
            clip = self._video(video)
            if audio is None and need_wave:
                wave = clip.audio
                if wave is None:
                    missing.append(("audio", "the video has no sound track"))
        if wave is not None or clip is not None:
            out.timings["decode"] = perf_counter() - started
        longest = max(
            wave.size / SAMPLE_RATE if wave is not None else 0.0, clip.duration if clip else 0.0
        )
        if longest >= self.max_seconds - 1e-3:
            out.warnings.append(f"only the first {self.max_seconds:g} s of the input were analysed")

        if wave is not None:
            out.coverage["audio"] = {"seconds": round(wave.size / SAMPLE_RATE, 3)}
            if _is_silent(wave):
                missing.append(("audio", "the audio is silent"))
                wave = None

        jobs: dict[str, Callable[[], Any]] = {}
        if clip is not None and "vision" not in skip:
            jobs["vision"] = lambda: self.vision(clip.frames)
        if wave is not None:
            jobs["audio"] = lambda: self._listen(wave, need_transcript or self.transcribe)
        results = self._run(jobs, out.timings)

        if "vision" in results:
            found = results["vision"]
            out.frames, out.landmarks = clip.frames, found.landmarks
            out.coverage["vision"] = {"frames": len(clip.frames), "face_share": found.face_share}
            if found.face_share > 0:
                out.arrays["vision"], out.masks["vision"] = found.features, found.mask
                out.signature["vision"] = _plain(self.vision.signature)
            else:
                missing.append(("vision", f"no face found in the {len(clip.frames)} video frames"))
        if "audio" in results:
            states, out.transcript = results["audio"]
            if "audio" not in skip:
                out.arrays["audio"] = states
                out.signature["audio"] = _plain(self.audio.signature)

        words, out.text_source = typed, "typed" if typed else None
        if not typed and need_transcript and out.transcript:
            words, out.text_source = out.transcript, "transcript"
        if words and "text" not in skip:
            started = perf_counter()
            out.arrays["text"] = self.text(words)
            out.timings["text"] = perf_counter() - started
            out.coverage["text"] = {"tokens": len(out.arrays["text"])}
            out.signature["text"] = _plain(self.text.signature)
        elif need_transcript and "audio" in results:
            missing.append(("text", "no words were recognised in the speech"))
        elif text is not None and not typed and "text" not in skip:
            missing.append(("text", "the text is empty"))

        if not out.available:
            reasons = [why for _, why in missing]
            if skip:
                off = [m for m in MODALITIES if m in skip]
                reasons.append(f"{', '.join(off)} switched off")
            raise InputError(f"nothing left to analyse: {'; '.join(reasons)}")
        out.warnings += [f"{m} missing: {why}" for m, why in missing]
        return out

    def _video(self, video: VideoInput) -> VideoClip:
        if isinstance(video, (str, Path)):
            return load_video(video, fps=self.fps, max_seconds=self.max_seconds)
        rate = self.fps
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
        duration = min(len(video) / rate, self.max_seconds)
        times = np.arange(0.0, duration - 1e-9, 1.0 / self.fps)
        frames = [np.asarray(video[int(t * rate)]) for t in times]
        return VideoClip(frames, times, None, duration, self.fps)

    def _listen(self, wave: np.ndarray, transcribe: bool) -> tuple[np.ndarray, str | None]:
        """Whisper states and transcript; without ``transcribe`` only the (much faster) encoder."""
        if not transcribe:
            return self.audio.encode_only(wave), None
        heard = self.audio(wave)
        return heard.features, heard.transcript.strip()

    def _run(self, jobs: dict[str, Callable[[], Any]], timings: dict[str, float]) -> dict:
        """Run extractor jobs (concurrently when asked), recording each one's seconds."""

        def timed(name: str) -> Any:
            started = perf_counter()
            result = jobs[name]()
            timings[name] = perf_counter() - started
            return result

        if self.concurrent and len(jobs) > 1:
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                futures = {name: pool.submit(timed, name) for name in jobs}
                return {name: future.result() for name, future in futures.items()}
        return {name: timed(name) for name in jobs}


class Pipeline(Extractors):
    """Extractors plus a FIRF checkpoint (``weights``: folder or Hub repo id; None = default).

    The checkpoint records the extractors it was trained with; features from different ones
    (another Whisper size, another frame rate) are refused instead of giving a wrong answer.
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        device: str | torch.device | None = None,
        whisper: str = "base",
        text_from_transcript: bool = True,
        concurrent: bool = True,
        max_seconds: float = MAX_SECONDS,
        fps: float = 5.0,
    ):
        super().__init__(device, whisper, text_from_transcript, concurrent, max_seconds, fps)
        self.weights = weights
        self._model: torch.nn.Module | None = None
        self._model_lock = threading.Lock()

    @property
    def model(self) -> torch.nn.Module:
        with self._model_lock:
            if self._model is None:
                self._model = self._load_model()
            return self._model

    def _load_model(self) -> torch.nn.Module:
        from firf.model import load_model
        from firf.weights import resolve_weights

        path = resolve_weights(self.weights)
        model = load_model(path, device=self.device)
        recorded = getattr(model.config, "extractor", None)
        if not isinstance(recorded, dict) or set(recorded) != set(MODALITIES):
            raise InputError(
                f"the checkpoint in {path} was trained on precomputed benchmark features, not on "
                "features of raw media; use a checkpoint trained with `firf extract` shards"
            )
        return model.eval()

    def load(self) -> Pipeline:
        """Load the model and every extractor now and check that they match."""
        self._check(self.signatures())
        return self

    def warm_up(self) -> None:
        """Load everything and run each model once, so the first request is not the slow one."""
        self.load()
        second = np.zeros(SAMPLE_RATE, np.float32)
        second[::40] = 0.1  # a faint click train: loud enough not to count as silence
        frame = np.zeros((64, 64, 3), np.uint8)
        features = self.features(video=[frame], audio=second, text="warm up")
        self.run(features)

    def run(
        self,
        features: Features,
        drop: str | Iterable[str] = (),
        intra_rate: float = 0.0,
        seed: int = 0,
    ) -> Prediction:
        """The prediction from ``features`` with ``drop`` switched off and, optionally, a
        seeded share ``intra_rate`` of the remaining frames dropped (``firf.missing``)."""
        from firf.data.dataset import collate
        from firf.missing import drop_frames

        dropped = parse_modalities(drop)
        kept = [m for m in features.available if m not in dropped]
        if not kept:
            raise InputError(
                f"every modality given ({', '.join(features.available)}) is switched off; keep "
                "at least one"
            )
        self._check({m: features.signature[m] for m in kept})
        batch = collate([self._sample(features, kept)])
        if intra_rate:
            batch = drop_frames(batch, intra_rate, torch.Generator().manual_seed(seed))
        used = tuple(m for m, p in zip(MODALITIES, presence(batch)[0].tolist(), strict=True) if p)
        if not used:
            raise InputError(
                f"intra_rate={intra_rate} dropped every frame; lower it or pick another seed"
            )
        started = perf_counter()
        with torch.inference_mode():
            score = float(self.model(batch_to(batch, self.device)).score[0])
        timings = {**features.timings, "model": perf_counter() - started}
        return Prediction(
            score=score,
            label=sentiment_label(score),
            used=used,
            transcript=features.transcript,
            text_source=features.text_source if "text" in used else None,
            coverage=features.coverage,
            timings=timings,
            warnings=list(features.warnings),
        )

    def run_subsets(self, features: Features) -> dict[str, float]:
        """Score for every non-empty subset of the available modalities, in one batch.

        Keys are subset strings (``"t"``, ``"ta"``, ``"tav"``...) as in ``firf.missing.SUBSETS``.
        """
        from firf.data.dataset import collate
        from firf.missing import SUBSETS, parse_subset

        self._check({m: features.signature[m] for m in features.available})
        subsets = [s for s in SUBSETS if set(parse_subset(s)) <= set(features.available)]
        batch = collate([self._sample(features, parse_subset(s)) for s in subsets])
        with torch.inference_mode():
            scores = self.model(batch_to(batch, self.device)).score.tolist()
        return dict(zip(subsets, scores, strict=True))

    def _sample(self, features: Features, kept: Sequence[str]) -> dict[str, np.ndarray]:
        dims = self.model.config.dims()
        sample = {m: np.zeros((0, dims[m]), np.float32) for m in MODALITIES}
        for m in kept:
            sample[m] = features.arrays[m]
            if m in features.masks:
                sample[f"{m}_mask"] = features.masks[m]
        return sample

    def _check(self, signatures: dict[str, dict]) -> None:
        recorded = self.model.config.extractor
        for m, actual in signatures.items():
            expected = _plain(recorded[m])
            if actual != expected:
                raise InputError(
                    f"the checkpoint was trained on {m} features from {json.dumps(expected)}, but "
                    f"this pipeline extracts them with {json.dumps(actual)}; use matching "
                    "extractor settings (e.g. the same Whisper model) or another checkpoint"
                )


def load_pipeline(weights: str | Path | None = None, **options: Any) -> Pipeline:
    """A ``Pipeline`` (same options) with its checkpoint and extractors loaded and checked now."""
    return Pipeline(weights, **options).load()


_extractors: dict[tuple, Any] = {}
_extractors_lock = threading.Lock()


def _shared(kind: type, **options: Any) -> Any:
    """One extractor per class and options in the process: pipelines share loaded models."""
    key = (kind, tuple(sorted((name, str(value)) for name, value in options.items())))
    with _extractors_lock:
        if key not in _extractors:
            _extractors[key] = kind(**options)
        return _extractors[key]


def _plain(signature: dict) -> dict:
    """The JSON form of a signature, so one read back from config.json compares equal."""
    return json.loads(json.dumps(signature))


def _is_silent(wave: np.ndarray) -> bool:
    """Below Whisper's silence level (there is nothing to transcribe): audio is missing."""
    from firf.extract.audio import SILENCE_RMS

    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) < SILENCE_RMS
