"""firf.predict end to end: real media, real extractors, a tiny random FIRF saved to disk.

The checkpoint is untrained, so these tests check the pipeline's behaviour (what reaches the
model, transcripts, coverage, warnings, errors, consistency), not the sentiment itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import firf
from firf.errors import InputError
from firf.pipeline import Pipeline
from firf.prediction import NEUTRAL_BAND, sentiment_label
from firf.weights import resolve_weights
from tools import media

pytestmark = pytest.mark.slow

SPOKEN = "I really love this wonderful movie"
RESULT_KEYS = {
    "score",
    "label",
    "used",
    "transcript",
    "text_source",
    "coverage",
    "timings",
    "subsets",
    "warnings",
    "timeline",
}


@pytest.fixture(scope="module")
def pipeline(random_checkpoint) -> Pipeline:
    return Pipeline.from_pretrained(random_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    speech = media.speech_wav(root / "speech.wav", SPOKEN)
    return {
        "speech": speech,
        "face_speech": media.face_clip(root / "face.mp4", seconds=2.0, audio_wav=speech),
        "face_silent": media.face_clip(root / "face_mute.mp4", seconds=1.0),
        "blank": media.blank_clip(root / "blank.mp4"),
        "silence": media.silence_wav(root / "silence.wav", seconds=1.0),
        "empty": media.write_wav(root / "empty.wav", np.zeros(0, np.float32)),
        "corrupt_video": media.corrupt_file(root / "broken.mp4"),
        "corrupt_audio": media.corrupt_file(root / "broken.wav"),
    }


@pytest.fixture(scope="module")
def speech_pred(pipeline, files):
    return firf.predict(audio=files["speech"], pipeline=pipeline)


@pytest.fixture(scope="module")
def clip_pred(pipeline, files):
    return firf.predict(video=files["face_speech"], subsets=True, pipeline=pipeline)


@pytest.fixture(scope="module")
def clip_features(random_checkpoint, files):
    """The face+speech clip's features, extracted without threads (Whisper calls are slow)."""
    return Pipeline.from_pretrained(random_checkpoint, device="cpu", concurrent=False).features(
        video=files["face_speech"]
    )


def test_text_only(pipeline):
    pred = firf.predict(text="What a wonderful day", pipeline=pipeline)
    assert pred.used == ("text",)
    assert pred.text_source == "typed" and pred.transcript is None
    assert -3.0 <= pred.score <= 3.0 and pred.label == sentiment_label(pred.score)
    assert pred.coverage == {"text": {"tokens": 6}}  # [CLS] what a wonderful day [SEP]
    assert pred.warnings == []
    result = json.loads(json.dumps(pred.to_dict()))
    assert set(result) == RESULT_KEYS and result["used"] == ["text"]


def test_audio_only_uses_speech_and_its_transcript(speech_pred):
    assert speech_pred.used == ("text", "audio")
    assert speech_pred.text_source == "transcript"
    assert "love" in speech_pred.transcript.lower() and "movie" in speech_pred.transcript.lower()
    assert 1.0 < speech_pred.coverage["audio"]["seconds"] < 5.0
    assert {"decode", "audio", "text", "model"} <= set(speech_pred.timings)


def test_face_and_speech_clip_uses_all_three(clip_pred):
    assert clip_pred.used == ("text", "audio", "vision")
    assert "movie" in clip_pred.transcript.lower()
    assert clip_pred.coverage["vision"]["frames"] == 10
    assert clip_pred.coverage["vision"]["face_share"] >= 0.8
    assert set(clip_pred.subsets) == {"t", "a", "v", "ta", "tv", "av", "tav"}
    assert clip_pred.subsets["tav"] == pytest.approx(clip_pred.score, abs=1e-5)


def test_concurrent_and_sequential_extraction_agree(pipeline, clip_pred, clip_features):
    assert clip_features.transcript == clip_pred.transcript
    assert pipeline.run(clip_features).score == pytest.approx(clip_pred.score, abs=1e-5)


def test_typed_text_wins_and_audio_arrays_work(pipeline, files, speech_pred):
    rate, samples = media.read_wav(files["speech"])
    pred = firf.predict(audio=(rate, samples), text="Terrible.", transcript=True, pipeline=pipeline)
    assert pred.used == ("text", "audio")
    assert pred.text_source == "typed" and pred.coverage["text"]["tokens"] == 4
    assert pred.transcript == speech_pred.transcript  # reported when asked for
    assert pred.coverage["audio"] == speech_pred.coverage["audio"]


def test_speech_without_text_is_not_transcribed_unless_asked(pipeline, files, speech_pred):
    """Whisper's decoder is most of the cost of speech: it runs only when its words are used
    or wanted, and the audio features do not depend on whether it ran."""
    silent = pipeline.features(audio=files["speech"], skip="text")
    asked = pipeline.features(audio=files["speech"], skip="text", transcript=True)
    assert silent.transcript is None and asked.transcript == speech_pred.transcript
    np.testing.assert_array_equal(silent.arrays["audio"], asked.arrays["audio"])
    typed = firf.predict(audio=files["speech"], text="Terrible.", pipeline=pipeline)
    assert typed.transcript is None and typed.used == ("text", "audio")


def test_video_frames_array_is_accepted(pipeline, files):
    frames = np.stack(pipeline.features(video=files["face_silent"]).frames)
    pred = firf.predict(video=frames, text="ok", pipeline=pipeline)
    assert pred.used == ("text", "vision") and pred.coverage["vision"]["frames"] == len(frames)
    resampled = firf.predict(
        video=(10.0, np.repeat(frames, 2, axis=0)), text="ok", pipeline=pipeline
    )
    assert resampled.score == pytest.approx(pred.score, abs=1e-5)


def test_drop_matches_the_subset_score(pipeline, clip_features):
    subsets = pipeline.run_subsets(clip_features)
    for drop, subset in [(("a",), "tv"), ("vision,audio", "t"), (["text"], "av")]:
        pred = pipeline.run(clip_features, drop=drop)
        assert "".join(m[0] for m in pred.used) == subset
        assert pred.score == pytest.approx(subsets[subset], abs=1e-5)


def test_dropping_audio_keeps_the_transcript_as_text(pipeline, files):
    pred = firf.predict(video=files["face_speech"], drop=("audio",), pipeline=pipeline)
    assert pred.used == ("text", "vision")
    assert pred.text_source == "transcript" and "movie" in pred.transcript.lower()


def test_faceless_video_with_text_leaves_vision_missing(pipeline, files):
    pred = firf.predict(video=files["blank"], text="Fine, I guess.", pipeline=pipeline)
    assert pred.used == ("text",)
    assert pred.coverage["vision"]["face_share"] == 0.0
    assert any(w.startswith("vision missing") and "no face" in w for w in pred.warnings)


def test_silent_audio_is_missing_with_a_warning(pipeline, files):
    pred = firf.predict(audio=files["silence"], text="Hello there.", pipeline=pipeline)
    assert pred.used == ("text",)
    assert any(w.startswith("audio missing") and "silent" in w for w in pred.warnings)


@pytest.mark.filterwarnings("ignore:.*only the first")
def test_long_input_is_cut_with_a_warning(random_checkpoint, files):
    short = Pipeline.from_pretrained(random_checkpoint, device="cpu", max_seconds=1.0)
    pred = firf.predict(video=files["face_speech"], text="ok", drop="audio", pipeline=short)
    assert pred.coverage["vision"]["frames"] == 5
    assert "only the first 1 s of the input were analysed" in pred.warnings


def test_intra_rate_is_seeded(pipeline, clip_features):
    first = pipeline.run(clip_features, intra_rate=0.5, seed=3).score
    assert pipeline.run(clip_features, intra_rate=0.5, seed=3).score == first
    assert pipeline.run(clip_features, intra_rate=0.0).score != first


def test_coverage_counts_what_the_simulated_loss_dropped(pipeline, clip_features):
    pred = pipeline.run(clip_features, drop="audio", intra_rate=0.7, seed=3)
    assert pred.used == ("text", "vision")
    assert pred.coverage["text"]["observed"] == len(clip_features.arrays["text"])
    assert pred.coverage["vision"]["observed"] == int(clip_features.masks["vision"].sum())
    for m in pred.used:
        assert 0 < pred.coverage[m]["dropped"] < pred.coverage[m]["observed"]
    assert "dropped" not in pred.coverage["audio"]  # switched off: nothing reached the model
    assert "dropped" not in clip_features.coverage["vision"]  # the features stay untouched
    assert "dropped" not in pipeline.run(clip_features).coverage["vision"]


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({}, "nothing to analyse"),
        ({"text": "   "}, "text is empty"),
        ({"video": "blank"}, "no face"),
        ({"audio": "silence"}, "silent"),
        ({"audio": "empty"}, "empty"),
        ({"video": "corrupt_video", "text": "hi"}, "could not read"),
        ({"audio": "corrupt_audio", "text": "hi"}, "could not read"),
        ({"video": "missing.mp4"}, "no such file"),
        ({"audio": 123}, "audio must be"),
        ({"video": b"\x00\x01", "text": "hi"}, "video must be"),
        ({"text": 5}, "text must be a string"),
        ({"text": "hi", "drop": "text"}, "switched off"),
        ({"video": "face_silent", "text": "hi", "drop": "t,v"}, "switched off"),
        ({"text": "hi", "drop": "smell"}, "unknown modality"),
    ],
)
def test_bad_input_raises_input_error(pipeline, files, inputs, message):
    inputs = {
        k: files.get(v, v) if isinstance(v, str) and k != "text" else v for k, v in inputs.items()
    }
    with pytest.raises(InputError, match=message):
        firf.predict(**inputs, pipeline=pipeline)


def test_checkpoint_from_other_extractors_is_refused(
    make_checkpoint, extractor_signatures, clip_features
):
    other = json.loads(json.dumps(extractor_signatures))
    other["audio"]["name"] = "whisper-small-encoder"
    mismatched = Pipeline.from_pretrained(make_checkpoint(other), device="cpu")
    assert mismatched.extractors.whisper == "small"  # built from what the checkpoint records
    assert mismatched.run(clip_features, drop="audio").used == ("text", "vision")
    with pytest.raises(InputError, match="whisper-small-encoder"):
        mismatched.run(clip_features)
    with pytest.raises(InputError, match="Whisper 'small'"):
        mismatched.load()  # base features only here: small is not installed, and never fetched


def test_checkpoint_with_tone_layer_rebuilds_that_audio_extractor(
    make_checkpoint, extractor_signatures, clip_features, files
):
    toned = json.loads(json.dumps(extractor_signatures))
    toned["audio"].update(dim=1024, tone_layer=2)
    pipeline = Pipeline.from_pretrained(make_checkpoint(toned), device="cpu").load()
    assert pipeline.extractors.audio.signature["tone_layer"] == 2
    with pytest.raises(InputError, match="tone_layer"):
        pipeline.run(clip_features)  # features of the plain extractor are refused
    features = pipeline.features(audio=files["speech"], text="fine")
    assert features.arrays["audio"].shape[1] == 1024
    assert pipeline.run(features).used == ("text", "audio")


def test_checkpoint_without_extractor_signature_is_refused(make_checkpoint):
    with pytest.raises(InputError, match="precomputed"):
        Pipeline.from_pretrained(make_checkpoint(None), device="cpu")


def test_weights_resolution(tmp_path, random_checkpoint, monkeypatch):
    assert resolve_weights(random_checkpoint) == random_checkpoint
    monkeypatch.setenv("FIRF_WEIGHTS", str(random_checkpoint))
    assert resolve_weights() == random_checkpoint
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a FIRF checkpoint"):
        resolve_weights(tmp_path / "empty")
    with pytest.raises(InputError, match="no checkpoint folder"):
        resolve_weights(tmp_path / "absent")
    with pytest.raises(InputError, match="no-such-firf-model"):  # HF_HUB_OFFLINE=1
        Pipeline.from_pretrained("nobody-here/no-such-firf-model", device="cpu")


def test_labels_follow_the_neutral_band():
    inside = (-NEUTRAL_BAND + 0.01, 0.0, NEUTRAL_BAND - 0.01)
    assert [sentiment_label(s) for s in inside] == ["neutral"] * 3
    assert sentiment_label(NEUTRAL_BAND) == "positive" and sentiment_label(-2.9) == "negative"


def test_device_and_pipeline_together_are_refused(pipeline):
    with pytest.raises(InputError, match="device"):
        firf.predict(text="hi", device="cpu", pipeline=pipeline)


def test_import_firf_is_cheap_and_predict_is_the_function():
    code = (
        "import sys, firf\n"
        "assert 'torch' not in sys.modules, 'import firf pulled in torch'\n"
        "import firf.pipeline\n"
        "assert firf.predict is firf.pipeline.predict\n"
        "assert firf.Prediction and firf.Pipeline is firf.pipeline.Pipeline\n"
        "assert set(firf.__all__) <= set(dir(firf))\n"
        "assert firf.FIRF.__name__ == 'FIRF' and issubclass(firf.InputError, ValueError)\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=120)
