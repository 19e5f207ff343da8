"""From raw media to ``Features``: decoding, the three extractors, and what counts as missing.

Missing rather than an error: a video with no face beside other input, silent audio, empty
text beside other input: a warning, and the modality is missing. Nothing usable: ``InputError``.

Extractor models load on first use, once per process, and are shared by every ``Extractors``
with the same settings, so one process serves any number of pipelines and threads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch

from firf.device import resolve_device
from firf.errors import InputError
from firf.extract.decode import (
    MAX_SECONDS,
    SAMPLE_RATE,
    VIDEO_FPS,
    VideoClip,
    load_audio,
    sound_track,
)
from firf.extract.video_input import VideoInput, sample_video
from firf.features import Features
from firf.modalities import MODALITIES, parse_modalities
from firf.sanitize import clean_text

Missing = list[tuple[str, str]]  # (modality, why) for given inputs that came out empty


@dataclass
class Heard:
    """What the audio job found: Whisper's states and transcript, or why the audio is missing."""

    decode_seconds: float
    wave_seconds: float | None = None  # None: there was no sound to decode
    missing: str | None = None
    states: np.ndarray | None = None
    transcript: str | None = None


class Extractors:
    """The three feature extractors and the policy for turning inputs into ``Features``.

    Feature settings (``whisper``, ``audio_frame_rate``, ``audio_tone_layer``, video ``fps`` and
    ``face_regions``, text ``max_tokens`` and tuned ``text_layers``) decide the features, so a
    checkpoint records them and ``from_signatures`` rebuilds the same extractors. Policy:
    ``text_from_transcript`` uses the speech transcript when no text is typed; ``concurrent``
    runs Face Mesh and Whisper in two threads (both release the GIL); Whisper's decoder, most of
    its time, runs only when the transcript is the text or is asked for (``transcribe=True``, or
    ``features(transcript=True)`` for one input); ``max_seconds`` caps the media.
    """

    def __init__(
        self,
        device: str | torch.device | None = None,
        whisper: str = "base",
        audio_frame_rate: int = 10,
        audio_tone_layer: int | None = None,
        fps: float = VIDEO_FPS,
        face_regions: str = "all",
        max_tokens: int = 128,
        text_layers: str | Path | None = None,
        text_from_transcript: bool = True,
        concurrent: bool = True,
        max_seconds: float = MAX_SECONDS,
        transcribe: bool = False,
    ):
        self.device = resolve_device(device)
        self.whisper = whisper
        self.audio_frame_rate = audio_frame_rate
        self.audio_tone_layer = audio_tone_layer
        self.fps = fps
        self.face_regions = face_regions
        self.max_tokens = max_tokens
        self.text_layers = text_layers
        self.text_from_transcript = text_from_transcript
        self.concurrent = concurrent
        self.max_seconds = max_seconds
        self.transcribe = transcribe

    @classmethod
    def from_signatures(
        cls,
        signatures: dict[str, dict],
        device: str | torch.device | None = None,
        text_layers: Path | None = None,
        **policy: Any,
    ) -> Extractors:
        """The extractors that produce features with these recorded signatures; ``text_layers``
        is the checkpoint's file of fine-tuned text layers when its text signature names one."""
        audio, vision, text = signatures["audio"], signatures["vision"], signatures["text"]
        tuned = text.get("tuned_layers")
        if tuned is not None:
            from firf.extract.text import tuned_layers_digest

            if text_layers is None or tuned_layers_digest(text_layers) != tuned:
                raise InputError(
                    "the checkpoint reads text through fine-tuned MiniLM layers "
                    f"(digest {tuned}); {text_layers or 'no file'} is not them"
                )
        name = str(audio["name"])
        if not (name.startswith("whisper-") and name.endswith("-encoder")):
            raise InputError(f"unknown audio extractor {name!r} in the checkpoint")
        return cls(
            device,
            whisper=name.removeprefix("whisper-").removesuffix("-encoder"),
            audio_frame_rate=int(audio["frame_rate"]),
            audio_tone_layer=audio.get("tone_layer"),
            fps=float(vision["fps"]),
            face_regions=str(vision.get("regions", "all")),
            max_tokens=int(text["max_tokens"]),
            text_layers=text_layers if tuned is not None else None,
            **policy,
        )

    @property
    def vision(self):
        from firf.extract.vision import FaceMeshVision

        return _shared(FaceMeshVision, fps=self.fps, regions=self.face_regions)

    @property
    def audio(self):
        from firf.extract.audio import WhisperAudio

        return _shared(
            WhisperAudio,
            model=self.whisper,
            device=self.device,
            frame_rate=self.audio_frame_rate,
            tone_layer=self.audio_tone_layer,
        )

    @property
    def text(self):
        from firf.extract.text import MiniLMText

        return _shared(
            MiniLMText,
            max_tokens=self.max_tokens,
            device=self.device,
            tuned_layers=self.text_layers,
        )

    def signatures(self) -> dict[str, dict]:
        """Every extractor's signature (loads them all)."""
        return {m: plain(getattr(self, m).signature) for m in MODALITIES}

    def features(
        self,
        video: VideoInput | None = None,
        audio: Any = None,
        text: str | bytes | None = None,
        skip: str | Iterable[str] = (),
        transcript: bool = False,
    ) -> Features:
        """Decode and extract every given modality not in ``skip``.

        ``video``: a file path, frames (N, H, W, 3) uint8 at ``fps``, or ``(frame_rate,
        frames)``; its sound track is the audio unless ``audio`` is given. ``audio``: a path,
        encoded bytes, ``(rate, samples)`` or 16 kHz samples. ``text``: typed text; when it is
        empty, the transcript (``text_from_transcript``). A skipped modality is not extracted,
        except that speech is still transcribed when the transcript is the text. ``transcript``
        asks for the transcript even when the score does not use it (typed or dropped text).
        """
        skip = set(parse_modalities(skip))
        if video is None and audio is None and text is None:
            raise InputError("nothing to analyse: give a video, an audio recording or some text")
        out, missing = Features(), []
        if text is not None:
            text, out.warnings = clean_text(text)
        typed = (text or "").strip()
        need_transcript = not typed and self.text_from_transcript and "text" not in skip
        transcribe = need_transcript or transcript or self.transcribe

        # Each modality decodes its own input in its job: faces are sought while Whisper listens.
        need_wave = "audio" not in skip or transcribe
        sound = audio if audio is not None else video if need_wave else None
        jobs: dict[str, Callable[[], Any]] = {}
        if video is not None and "vision" not in skip:
            jobs["vision"] = lambda: self._see(video)
        if sound is not None:
            jobs["audio"] = lambda: self._hear(sound, audio is None, transcribe)
        results = self._run(jobs, out.timings)

        clip, found, seconds = results.get("vision", (None, None, None))
        heard = results.get("audio")
        self._note_decoding(clip, seconds, heard, out)
        if heard is not None and heard.missing:
            missing.append(("audio", heard.missing))
        if clip is not None:
            self._add_vision(found, clip, out, missing)
        if heard is not None and heard.states is not None:
            out.transcript = heard.transcript
            if "audio" not in skip:
                out.arrays["audio"] = heard.states
                out.signature["audio"] = plain(self.audio.signature)
        heard_speech = heard is not None and heard.states is not None
        self._add_text(typed, text, skip, need_transcript, heard_speech, out, missing)
        return _finish(out, missing, skip)

    def _see(self, video: VideoInput) -> tuple[VideoClip, Any, float]:
        """The sampled video, Face Mesh's findings on its frames, and the decoding seconds."""
        started = perf_counter()
        clip = sample_video(video, self.fps, self.max_seconds)
        decoded = perf_counter() - started
        return clip, self.vision(clip.frames), decoded

    def _hear(self, sound: Any, from_video: bool, transcribe: bool) -> Heard:
        """Decode the sound (``from_video``: the video file's track) and listen unless silent."""
        from firf.extract.audio import is_silent

        started = perf_counter()
        if from_video:
            wave = sound_track(sound, self.max_seconds) if isinstance(sound, (str, Path)) else None
        else:
            wave = load_audio(sound, self.max_seconds)
        heard = Heard(decode_seconds=perf_counter() - started)
        if wave is None:
            heard.missing = "the video has no sound track"
            return heard
        heard.wave_seconds = wave.size / SAMPLE_RATE
        if is_silent(wave):
            heard.missing = "the audio is silent"
            return heard
        heard.states, heard.transcript = self._listen(wave, transcribe)
        return heard

    def _note_decoding(
        self,
        clip: VideoClip | None,
        video_seconds: float | None,
        heard: Heard | None,
        out: Features,
    ) -> None:
        """Decoding seconds (taken out of each job's time), the sound's length, and a warning
        when the input was cut."""
        seconds = []
        lengths = [clip.duration] if clip is not None else []
        if video_seconds is not None:
            seconds.append(video_seconds)
            out.timings["vision"] -= video_seconds
        if heard is not None:
            seconds.append(heard.decode_seconds)
            out.timings["audio"] -= heard.decode_seconds
            if heard.wave_seconds is not None:
                out.coverage["audio"] = {"seconds": round(heard.wave_seconds, 3)}
                lengths.append(heard.wave_seconds)
        if seconds:
            out.timings["decode"] = sum(seconds)
        if lengths and max(lengths) >= self.max_seconds - 1e-3:
            out.warnings.append(f"only the first {self.max_seconds:g} s of the input were analysed")

    def _add_vision(self, found: Any, clip: VideoClip, out: Features, missing: Missing) -> None:
        out.frames, out.landmarks = clip.frames, found.landmarks
        out.coverage["vision"] = {"frames": len(clip.frames), "face_share": found.face_share}
        if found.face_share > 0:
            out.arrays["vision"], out.masks["vision"] = found.features, found.mask
            out.signature["vision"] = plain(self.vision.signature)
        else:
            missing.append(("vision", f"no face found in the {len(clip.frames)} video frames"))

    def _add_text(
        self,
        typed: str,
        text: str | None,
        skip: set[str],
        need_transcript: bool,
        heard: bool,
        out: Features,
        missing: Missing,
    ) -> None:
        """The typed text, else the transcript, as the text modality; or why there is none."""
        words, out.text_source = typed, "typed" if typed else None
        if not typed and need_transcript and out.transcript:
            words, out.text_source = out.transcript, "transcript"
        if words and "text" not in skip:
            started = perf_counter()
            out.arrays["text"] = self.text(words)
            out.timings["text"] = perf_counter() - started
            out.coverage["text"] = {"tokens": len(out.arrays["text"])}
            out.signature["text"] = plain(self.text.signature)
        elif need_transcript and heard:
            missing.append(("text", "no words were recognised in the speech"))
        elif text is not None and not typed and "text" not in skip:
            missing.append(("text", "the text is empty"))

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


def _finish(out: Features, missing: Missing, skip: set[str]) -> Features:
    """The features with a warning per missing input; an error when nothing usable is left."""
    if not out.available:
        reasons = [why for _, why in missing]
        if skip:
            off = [m for m in MODALITIES if m in skip]
            reasons.append(f"{', '.join(off)} switched off")
        raise InputError(f"nothing left to analyse: {'; '.join(reasons)}")
    out.warnings += [f"{m} missing: {why}" for m, why in missing]
    return out


_extractors: dict[tuple, Any] = {}
_extractors_lock = threading.Lock()


def _shared(kind: type, **options: Any) -> Any:
    """One extractor per class and options in the process: pipelines share loaded models."""
    key = (kind, tuple(sorted((name, str(value)) for name, value in options.items())))
    with _extractors_lock:
        if key not in _extractors:
            _extractors[key] = kind(**options)
        return _extractors[key]


def plain(signature: dict) -> dict:
    """The JSON form of a signature, so one read back from config.json compares equal."""
    return json.loads(json.dumps(signature))
