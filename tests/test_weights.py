"""The bundled demo checkpoint, through the real extractors: what a user of the demo relies on."""

from __future__ import annotations

import json

import pytest

import firf
from firf.errors import InputError
from firf.extractors import Extractors
from firf.modalities import MODALITIES
from firf.pipeline import Pipeline
from firf.weights import BUNDLED_WEIGHTS
from tools.media import face_clip, speech_wav

pytestmark = pytest.mark.slow

POSITIVE_SPEECH = "I absolutely loved this movie. It was wonderful, I really enjoyed it."
NEGATIVE_SPEECH = "This was a terrible, boring movie. It was a complete waste of time."


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.from_pretrained(BUNDLED_WEIGHTS).load()


def test_checkpoint_is_small_and_records_its_extractors():
    config = json.loads((BUNDLED_WEIGHTS / "config.json").read_text())
    assert set(config["extractor"]) == set(MODALITIES)
    assert config["extractor"]["audio"]["name"] == "whisper-base-encoder"
    assert (BUNDLED_WEIGHTS / "model.safetensors").stat().st_size < 25 * 2**20


@pytest.mark.parametrize(
    ("text", "label"),
    [("I absolutely loved it", "positive"), ("this was a terrible waste of time", "negative")],
)
def test_typed_text_polarity(pipeline, text, label):
    pred = firf.predict(text=text, pipeline=pipeline)
    assert pred.used == ("text",)
    assert pred.label == label, pred.score


@pytest.mark.parametrize(("sentence", "sign"), [(POSITIVE_SPEECH, 1), (NEGATIVE_SPEECH, -1)])
def test_spoken_sentence_polarity(pipeline, tmp_path, sentence, sign):
    wav = speech_wav(tmp_path / "speech.wav", sentence, voice="en-us", rate=160)
    heard = firf.predict(audio=wav, pipeline=pipeline)
    assert heard.used == ("text", "audio") and heard.text_source == "transcript"
    assert sign * heard.score > 0.5, heard.to_dict()


def test_audio_alone_ranks_the_praise_above_the_complaint(pipeline, tmp_path):
    """With the transcript switched off the score comes from the Whisper states only. The audio
    branch is weak on its own (see the model card), so this asks for the order, not the signs."""
    scores = {}
    for name, sentence in (("praise", POSITIVE_SPEECH), ("complaint", NEGATIVE_SPEECH)):
        wav = speech_wav(tmp_path / f"{name}.wav", sentence, voice="en-us", rate=160)
        heard = firf.predict(audio=wav, drop="text", pipeline=pipeline)
        assert heard.used == ("audio",)
        scores[name] = heard.score
    assert scores["praise"] > scores["complaint"] + 0.5, scores


def test_smiling_face_is_positive(pipeline, tmp_path):
    clip = face_clip(tmp_path / "smile.mp4", seconds=2.0)
    pred = firf.predict(video=clip, pipeline=pipeline)
    assert pred.used == ("vision",)
    assert pred.score > 0.5, pred.to_dict()


def test_features_from_other_extractor_settings_are_refused(pipeline, tmp_path):
    other = Extractors(fps=10.0).features(video=face_clip(tmp_path / "face.mp4", seconds=1.0))
    with pytest.raises(InputError, match="trained on vision features from .*fps"):
        pipeline.run(other)


def test_checkpoint_loads_as_a_firf_model():
    model = firf.FIRF.from_pretrained(str(BUNDLED_WEIGHTS))
    assert isinstance(model, firf.FIRF) and model.config.d_model <= 128


# Scores of the bundled checkpoint on media made here, recorded before the inference layer and
# the config were restructured (issue 11). A refactoring must leave them alone; retraining the
# checkpoint on purpose is the only reason to record new ones.
PINNED = {
    "typed positive": 1.8403751850128174,
    "typed negative": -1.4719359874725342,
    "speech": 1.7906696796417236,
    "speech, text off": 1.6486990451812744,
    "face": 1.470692753791809,
}
PINNED_SUBSETS = {
    "t": -0.5070585608482361,
    "a": 1.6486989259719849,
    "v": 1.470692753791809,
    "ta": 1.0178250074386597,
    "tv": 1.348414421081543,
    "av": 1.6405360698699951,
    "tav": 1.458374261856079,
}


def test_bundled_checkpoint_scores_stay_pinned(pipeline, tmp_path):
    wav = speech_wav(tmp_path / "s.wav", "I really love this wonderful movie")
    clip = face_clip(tmp_path / "f.mp4", seconds=2.0)
    got = {
        "typed positive": firf.predict(text="I absolutely loved it", pipeline=pipeline).score,
        "typed negative": firf.predict(
            text="What a terrible waste of time.", pipeline=pipeline
        ).score,
        "speech": firf.predict(audio=wav, pipeline=pipeline).score,
        "speech, text off": firf.predict(audio=wav, drop="text", pipeline=pipeline).score,
        "face": firf.predict(video=clip, pipeline=pipeline).score,
    }
    assert got == pytest.approx(PINNED, abs=1e-5)
    mixed = firf.predict(
        video=clip, audio=wav, text="It was fine.", subsets=True, pipeline=pipeline
    )
    assert mixed.subsets == pytest.approx(PINNED_SUBSETS, abs=1e-5)
