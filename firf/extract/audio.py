"""Audio features and transcript from Whisper, computed on the clip's real length.

openai-whisper pads every input to a 30-second window before the encoder, so a 5-second clip
costs as much as a 30-second one and its features are mostly padding. Here the log-mel is
computed for the real length (padded only to the encoder's stride), the encoder runs with its
positional embeddings sliced to that length, and the states are averaged down to a modest frame
rate for FIRF. The transcript is decoded from the same short states; only clips under
MIN_DECODE_SECONDS get a silent tail first, and a decode that Whisper's own criteria call unsure
is redone on the standard 30-second window (see ``WhisperAudio._transcribe``).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import whisper
from whisper.audio import CHUNK_LENGTH, FRAMES_PER_SECOND, HOP_LENGTH, N_FFT, N_SAMPLES, SAMPLE_RATE
from whisper.decoding import DecodingOptions, DecodingTask
from whisper.tokenizer import get_tokenizer

from firf.device import resolve_device
from firf.extract.decode import AudioSource, load_audio
from firf.extract.whisper_weights import load_whisper

log = logging.getLogger(__name__)

RECIPE = 1  # bump when the features change for the same audio (checkpoints store it)
ENCODER_RATE = SAMPLE_RATE // (2 * HOP_LENGTH)  # 50 encoder states per second
SILENCE_RMS = 1e-3  # about -60 dBFS: below this there is nothing to transcribe
MIN_SPEECH_SECONDS = 0.2  # shorter than a syllable: no transcript is attempted
MIN_DECODE_SECONDS = 5.0  # shorter chunks are decoded with a silent tail (see _transcribe)
# Whisper's own thresholds (transcribe.py): below LOGPROB_THRESHOLD or above REPETITIVE (gzip
# compression ratio) a decode is unsure; a window is silent when the no-speech token is likely
# and the text is unsure.
LOGPROB_THRESHOLD = -1.0
REPETITIVE = 2.4
NO_SPEECH_PROB = 0.6
TOKENS_PER_SECOND_CAP = 8  # bounds a runaway decode on noise; fast speech is ~4 tokens/s


@dataclass
class AudioFeatures:
    """Encoder states pooled to ``frame_rate`` Hz (T, d), the transcript and what it rests on.

    ``speech`` is False when the clip is silent or Whisper judged it to hold no speech; then
    ``transcript`` is "" rather than a hallucinated sentence.
    """

    features: np.ndarray
    transcript: str
    seconds: float
    language: str | None
    speech: bool
    no_speech_prob: float


class WhisperAudio:
    """Whisper encoder features and greedy transcripts, loaded once per process.

    `model` is ``"base"`` (converted offline from the packaged weights), another official size
    (downloaded only when allowed) or a checkpoint path. `language` None detects it per clip.

    `tone_layer` k appends the states after encoder block k to the final states (twice the
    width). The final states mostly encode what is said; early blocks keep how it is said: on
    EmoDB, leave-one-speaker-out, a linear probe tells happy from negative speech at 0.75
    balanced accuracy from block 2 against 0.65 from the final states
    (``benchmarks/demo_checkpoint.md``, "Checkpoint v2 groundwork"). None keeps the features
    (and signature) of checkpoints trained without it.
    """

    def __init__(
        self,
        model: str | Path = "base",
        device: str | torch.device | None = None,
        frame_rate: int = 10,
        language: str | None = "en",
        tone_layer: int | None = None,
    ) -> None:
        if frame_rate <= 0 or ENCODER_RATE % frame_rate:
            raise ValueError(f"frame_rate must divide {ENCODER_RATE} Hz; got {frame_rate}")
        self.device = resolve_device(device)
        log.info("loading Whisper %s on %s", model, self.device)
        self.model = load_whisper(str(model), self.device)
        blocks = len(self.model.encoder.blocks)
        if tone_layer is not None and not 1 <= tone_layer < blocks:
            raise ValueError(f"tone_layer must be a block in 1..{blocks - 1}; got {tone_layer}")
        self.tone_layer = tone_layer
        self.name = str(model) if str(model) in whisper.available_models() else Path(model).stem
        self.frame_rate = frame_rate
        self.language = language
        # fp16 on GPUs as openai-whisper does; CPUs lack fast half-precision kernels.
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self._lock = threading.Lock()  # decoding installs hooks on the shared model
        tokenizer = get_tokenizer(
            self.model.is_multilingual, num_languages=self.model.num_languages
        )
        # Only text can be emitted: language, task and timestamp tokens would leak into the text.
        self._suppress = [-1, *range(tokenizer.eot + 1, self.model.dims.n_vocab)]

    @property
    def signature(self) -> dict[str, object]:
        width = self.model.dims.n_audio_state
        signature: dict[str, object] = {
            "name": f"whisper-{self.name}-encoder",
            "recipe": RECIPE,
            "dim": width if self.tone_layer is None else 2 * width,
            "frame_rate": self.frame_rate,
            "length": "real",
        }
        if self.tone_layer is not None:
            signature["tone_layer"] = self.tone_layer
        return signature

    def __call__(self, audio: AudioSource) -> AudioFeatures:
        """Features and transcript of `audio` (16 kHz samples, or anything ``load_audio`` reads)."""
        wave = load_audio(audio)
        seconds = wave.size / SAMPLE_RATE
        chunks = [wave[i : i + N_SAMPLES] for i in range(0, wave.size, N_SAMPLES)]
        width = self.model.dims.n_audio_state
        with self._lock, torch.inference_mode():
            states = [self._encode(self._mel(chunk), tone=True) for chunk in chunks]
            features = self._pool(torch.cat(states, dim=1)[0])
            if is_silent(wave) or seconds < MIN_SPEECH_SECONDS:
                return AudioFeatures(features, "", seconds, self.language, False, 1.0)
            final = [s[..., :width] for s in states]  # the decoder reads the final states only
            results = [self._transcribe(c, s) for c, s in zip(chunks, final, strict=True)]
        texts = [r.text for r in results if not _silent(r)]
        no_speech = min(r.no_speech_prob for r in results)
        return AudioFeatures(
            features, " ".join(texts), seconds, results[0].language, bool(texts), no_speech
        )

    def encode_only(self, audio: AudioSource) -> np.ndarray:
        """Pooled encoder states (T, d) without a transcript: the fast path for corpus building."""
        wave = load_audio(audio)
        chunks = [wave[i : i + N_SAMPLES] for i in range(0, wave.size, N_SAMPLES)]
        with self._lock, torch.inference_mode():
            states = [self._encode(self._mel(chunk), tone=True) for chunk in chunks]
            return self._pool(torch.cat(states, dim=1)[0])

    def _transcribe(self, chunk: np.ndarray, states: torch.Tensor) -> whisper.DecodingResult:
        """Greedy transcript of one chunk (at most 30 s) from its real-length encoder states.

        Whisper was trained on 30-second windows whose tail is silence; without any, its decoder
        can miss the end of a short utterance and repeat it. Chunks shorter than
        MIN_DECODE_SECONDS are therefore decoded with a silent tail up to that length. When the
        result is still unsure by Whisper's own criteria (low log-probability, repetitive
        text), the chunk is decoded again from the standard padded 30-second window.
        """
        seconds = chunk.size / SAMPLE_RATE
        if seconds < MIN_DECODE_SECONDS:
            states = self._encode(self._mel(chunk, MIN_DECODE_SECONDS))
        result = self._decode(states, seconds)
        if result.avg_logprob < LOGPROB_THRESHOLD or result.compression_ratio > REPETITIVE:
            result = self._decode(self._encode(self._mel(chunk, CHUNK_LENGTH)), seconds)
        return result

    def _mel(self, chunk: np.ndarray, min_seconds: float = 0.0) -> torch.Tensor:
        """(1, n_mels, frames) log-mel of `chunk`, an even number of frames, at least `min_seconds`.

        The samples past the end are zeros, as in openai-whisper's padded computation, so the
        frames are identical to its frames; only how many are kept differs.
        """
        frames = max(
            2, 2 * math.ceil(chunk.size / (2 * HOP_LENGTH)), round(min_seconds * FRAMES_PER_SECOND)
        )
        mel = whisper.log_mel_spectrogram(
            torch.from_numpy(chunk).to(self.device),
            self.model.dims.n_mels,
            padding=frames * HOP_LENGTH - chunk.size + N_FFT,
        )
        return mel[None, :, :frames]

    def _encode(self, mel: torch.Tensor, tone: bool = False) -> torch.Tensor:
        """Whisper's AudioEncoder.forward with positional embeddings cut to the input length.

        With ``tone`` and a ``tone_layer``, the states after that block are appended.
        """
        encoder = self.model.encoder
        x = F.gelu(encoder.conv1(mel.to(self.dtype)))
        x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
        x = (x + encoder.positional_embedding[: x.shape[1]]).to(x.dtype)
        kept = None
        for index, block in enumerate(encoder.blocks, start=1):
            x = block(x)
            if tone and index == self.tone_layer:
                kept = x
        final = encoder.ln_post(x)
        return final if kept is None else torch.cat([final, kept], dim=-1)

    def _decode(self, states: torch.Tensor, seconds: float) -> whisper.DecodingResult:
        options = DecodingOptions(
            language=self.language,
            temperature=0.0,
            sample_len=min(
                self.model.dims.n_text_ctx // 2, 8 + math.ceil(seconds * TOKENS_PER_SECOND_CAP)
            ),
            suppress_tokens=list(self._suppress),
            without_timestamps=True,
            fp16=self.dtype == torch.float16,
        )
        return _FeaturesDecoding(self.model, options, states).run(states)[0]

    def _pool(self, states: torch.Tensor) -> np.ndarray:
        """Average groups of encoder states down to ``frame_rate`` Hz (last group may be short)."""
        group = ENCODER_RATE // self.frame_rate
        count = math.ceil(states.shape[0] / group)
        padded = F.pad(states.float(), (0, 0, 0, count * group - states.shape[0]))
        sums = padded.reshape(count, group, -1).sum(dim=1)
        sizes = torch.full((count, 1), float(group), device=states.device)
        sizes[-1] = states.shape[0] - (count - 1) * group
        return (sums / sizes).cpu().numpy()


class _FeaturesDecoding(DecodingTask):
    """openai-whisper's decoding loop over encoder states we computed ourselves.

    DecodingTask re-runs the encoder unless handed states of the full 30-second shape, and its
    language detection does the same; both are redirected to the given (shorter) states.
    """

    def __init__(self, model: whisper.Whisper, options: DecodingOptions, states: torch.Tensor):
        super().__init__(model, options)
        self.states = states

    def _get_audio_features(self, mel: torch.Tensor) -> torch.Tensor:
        return self.states

    def _detect_language(
        self, audio_features: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[list[str], list[dict[str, float]] | None]:
        if self.options.language is not None or not self.model.is_multilingual:
            return [self.options.language or "en"] * audio_features.shape[0], None
        start = torch.full((audio_features.shape[0], 1), self.tokenizer.sot, device=tokens.device)
        logits = self.model.logits(start.to(audio_features.device), audio_features)[:, 0]
        language_tokens = torch.tensor(self.tokenizer.all_language_tokens)
        probs = logits[:, language_tokens.to(logits.device)].float().softmax(dim=-1).cpu()
        best = probs.argmax(dim=-1)
        tokens[:, self.sot_index + 1] = language_tokens[best]
        codes = self.tokenizer.all_language_codes
        languages = [codes[i] for i in best.tolist()]
        return languages, [dict(zip(codes, p.tolist(), strict=True)) for p in probs]


def is_silent(wave: np.ndarray) -> bool:
    """Below Whisper's silence level: there is nothing to transcribe, the audio is missing."""
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) < SILENCE_RMS


def _silent(result: whisper.DecodingResult) -> bool:
    return not result.text or (
        result.no_speech_prob > NO_SPEECH_PROB and result.avg_logprob < LOGPROB_THRESHOLD
    )
