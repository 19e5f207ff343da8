"""A checkpoint and the extractors it was trained with: ``Pipeline`` and ``firf.predict()``.

``Pipeline.from_pretrained(weights)`` reads the extractor settings the checkpoint records and
builds exactly those extractors, so nobody has to repeat them (and nobody can get them wrong).
One pipeline serves concurrent requests: the model is loaded once, extractors on first use.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import torch

from firf.batch import batch_to, presence
from firf.data.dataset import collate
from firf.device import resolve_device
from firf.errors import InputError
from firf.extract.decode import SAMPLE_RATE
from firf.extractors import Extractors, plain
from firf.features import Features
from firf.missing import drop_frames
from firf.modalities import MODALITIES, SUBSETS, parse_modalities, parse_subset, subset_code
from firf.prediction import Prediction, sentiment_label
from firf.timeline import predict_timeline

log = logging.getLogger(__name__)


class Pipeline:
    """A FIRF checkpoint plus its ``Extractors``: raw media in, ``Prediction`` out."""

    def __init__(self, model: torch.nn.Module, extractors: Extractors):
        self.model = model.eval()
        self.extractors = extractors

    @classmethod
    def from_pretrained(
        cls,
        weights: str | Path | None = None,
        device: str | torch.device | None = None,
        **policy: Any,
    ) -> Pipeline:
        """The checkpoint in ``weights`` (folder or Hub repo id; None: ``$FIRF_WEIGHTS``, else
        the bundled one) with the extractors it records, on ``device`` (None: CUDA if present).

        ``policy`` passes ``text_from_transcript``, ``concurrent``, ``max_seconds`` or
        ``transcribe`` on to ``Extractors``; feature settings come from the checkpoint only.
        """
        from firf.model import load_model
        from firf.weights import resolve_weights, text_layers_file

        path = resolve_weights(weights)
        device = resolve_device(device)
        log.info("loading the FIRF checkpoint %s", path)
        model = load_model(path, device=device)
        recorded = getattr(model.config, "extractor", None)
        if not isinstance(recorded, dict) or set(recorded) != set(MODALITIES):
            raise InputError(
                f"the checkpoint in {path} was trained on precomputed benchmark features, not on "
                "features of raw media; use a checkpoint trained with `firf extract` shards"
            )
        text_layers = None
        if recorded["text"].get("tuned_layers") is not None:
            text_layers = text_layers_file(path)
        return cls(model, Extractors.from_signatures(recorded, device, text_layers, **policy))

    @property
    def device(self) -> torch.device:
        return self.extractors.device

    def features(self, *args: Any, **kwargs: Any) -> Features:
        """``Extractors.features`` of this pipeline's extractors."""
        return self.extractors.features(*args, **kwargs)

    def load(self) -> Pipeline:
        """Load every extractor now and check that it makes the checkpoint's features."""
        self._check(self.extractors.signatures())
        return self

    def warm_up(self) -> None:
        """Load everything and run each model once, so the first request is not the slow one."""
        self.load()
        log.info("running each model once")
        second = np.zeros(SAMPLE_RATE, np.float32)
        second[::40] = 0.1  # a faint click train: loud enough not to count as silence
        frame = np.zeros((64, 64, 3), np.uint8)
        self.run(self.features(video=[frame], audio=second, text="warm up"))

    def run(
        self,
        features: Features,
        drop: str | Iterable[str] = (),
        intra_rate: float = 0.0,
        seed: int = 0,
    ) -> Prediction:
        """The prediction from ``features`` with ``drop`` switched off and, optionally, a
        seeded share ``intra_rate`` of the remaining frames dropped (``firf.missing``)."""
        dropped = parse_modalities(drop)
        kept = [m for m in features.available if m not in dropped]
        if not kept:
            raise InputError(
                f"every modality given ({', '.join(features.available)}) is switched off; keep "
                "at least one"
            )
        self._check({m: features.signature[m] for m in kept})
        batch = collate([self._sample(features, kept)])
        coverage = features.coverage
        if intra_rate:
            damaged = drop_frames(batch, intra_rate, torch.Generator().manual_seed(seed))
            coverage = _after_loss(coverage, batch, damaged, kept)
            batch = damaged
        used = tuple(m for m, p in zip(MODALITIES, presence(batch)[0].tolist(), strict=True) if p)
        if not used:
            raise InputError(
                f"intra_rate={intra_rate} dropped every frame; lower it or pick another seed"
            )
        started = perf_counter()
        score = float(self._scores(batch)[0])
        return Prediction(
            score=score,
            label=sentiment_label(score),
            used=used,
            transcript=features.transcript,
            text_source=features.text_source if "text" in used else None,
            coverage=coverage,
            timings={**features.timings, "model": perf_counter() - started},
            warnings=list(features.warnings),
        )

    def run_many(
        self, many: Sequence[Features], drop: str | Iterable[str] = ()
    ) -> list[Prediction]:
        """``run`` for several inputs with the same ``drop``, in one forward pass (what makes a
        batch of short jobs cheap); each result equals ``run`` on its own up to float rounding."""
        dropped = parse_modalities(drop)
        kept = [[m for m in features.available if m not in dropped] for features in many]
        if not all(kept):
            raise InputError("every modality of some input is switched off; keep at least one")
        for features, modalities in zip(many, kept, strict=True):
            self._check({m: features.signature[m] for m in modalities})
        batch = collate([self._sample(f, k) for f, k in zip(many, kept, strict=True)])
        started = perf_counter()
        scores = self._scores(batch)
        share = (perf_counter() - started) / len(many)
        return [
            Prediction(
                score=score,
                label=sentiment_label(score),
                used=tuple(modalities),
                transcript=features.transcript,
                text_source=features.text_source if "text" in modalities else None,
                coverage=features.coverage,
                timings={**features.timings, "model": share},
                warnings=list(features.warnings),
            )
            for features, modalities, score in zip(many, kept, scores, strict=True)
        ]

    def run_subsets(self, features: Features) -> dict[str, float]:
        """Score for every non-empty subset of the available modalities, in one batch.

        Keys are subset strings (``"t"``, ``"ta"``, ``"tav"``...) as in ``firf.SUBSETS``.
        """
        self._check({m: features.signature[m] for m in features.available})
        available = subset_code(features.available)
        subsets = [s for s in SUBSETS if set(s) <= set(available)]
        batch = collate([self._sample(features, parse_subset(s)) for s in subsets])
        return dict(zip(subsets, self._scores(batch), strict=True))

    def _scores(self, batch: dict[str, torch.Tensor]) -> list[float]:
        with torch.inference_mode():
            return self.model(batch_to(batch, self.device)).score.tolist()

    def _sample(self, features: Features, kept: Sequence[str]) -> dict[str, np.ndarray]:
        dims = self.model.config.dims()
        sample = {m: np.zeros((0, dims[m]), np.float32) for m in MODALITIES}
        for m in kept:
            sample[m] = features.arrays[m]
            if m in features.masks:
                sample[f"{m}_mask"] = features.masks[m]
        return sample

    def _check(self, signatures: dict[str, dict]) -> None:
        """Refuse features the checkpoint was not trained on (another extractor or recipe)."""
        recorded = self.model.config.extractor
        for m, actual in signatures.items():
            expected = plain(recorded[m])
            if actual != expected:
                raise InputError(
                    f"the checkpoint was trained on {m} features from {json.dumps(expected)}, but "
                    f"these features come from {json.dumps(actual)}; use a checkpoint made with "
                    "this version's extractors"
                )


_pipelines: dict[str, Pipeline] = {}
_pipelines_lock = threading.Lock()


def _after_loss(
    coverage: dict[str, dict[str, Any]], before: dict, after: dict, kept: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``coverage`` plus, per modality that reached the model, how many of its observed frames
    (tokens for text) the simulated loss dropped: the page reports what the model really saw."""
    out = {m: dict(info) for m, info in coverage.items()}
    for m in kept:
        observed = int(before[f"{m}_mask"].sum())
        out[m]["observed"] = observed
        out[m]["dropped"] = observed - int(after[f"{m}_mask"].sum())
    return out


def default_pipeline(device: str | None = None) -> Pipeline:
    """The process-wide pipeline for ``device`` (default checkpoint), created on first use."""
    key = str(device)
    with _pipelines_lock:
        if key not in _pipelines:
            _pipelines[key] = Pipeline.from_pretrained(device=device)
        return _pipelines[key]


def predict(
    video: Any = None,
    audio: Any = None,
    text: str | None = None,
    drop: str | Iterable[str] = (),
    device: str | None = None,
    *,
    intra_rate: float = 0.0,
    seed: int = 0,
    subsets: bool = False,
    transcript: bool = False,
    timeline: bool = False,
    pipeline: Pipeline | None = None,
) -> Prediction:
    """Sentiment of the given inputs; see ``Extractors.features`` for the accepted types.

    ``drop`` switches modalities off ("text", "audio", "vision" or t, a, v; a list or a
    comma-separated string). ``intra_rate`` drops that share of the remaining frames at random
    (seeded by ``seed``) to simulate damaged input. ``subsets`` adds the score of every subset
    of the available modalities. ``transcript`` transcribes the speech even when the score does
    not use it (text typed or dropped); otherwise Whisper's decoder, most of the cost of speech,
    is skipped there and ``transcript`` is None. ``timeline`` scores a long clip (a video or
    audio file of up to a few minutes, no typed text) per utterance as well, in
    ``Prediction.timeline`` (see ``firf.timeline``). ``pipeline`` replaces the process-wide default one (then
    ``device`` must be left out). Bad input raises ``firf.InputError``.
    """
    if pipeline is not None and device is not None:
        raise InputError("pass device to the Pipeline you give, not to predict()")
    pipeline = pipeline or default_pipeline(device)
    dropped = parse_modalities(drop)
    if timeline:
        if intra_rate:
            raise InputError("intra_rate simulates damage to one clip; leave it out of a timeline")
        return predict_timeline(pipeline, video, audio, text, dropped, transcript, subsets)
    features = pipeline.features(
        video=video, audio=audio, text=text, skip=dropped, transcript=transcript
    )
    prediction = pipeline.run(features, drop=dropped, intra_rate=intra_rate, seed=seed)
    if subsets:
        prediction.subsets = pipeline.run_subsets(features)
    return prediction
