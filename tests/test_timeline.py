"""Timeline of a long clip: a 2-minute recording of six spoken sentences and a face that leaves.

The clip is made here from espeak-ng speech (three clearly positive, three clearly negative
sentences, long pauses between them) and scikit-image's astronaut, replaced by a faceless coffee
cup for two stretches. It is scored with the bundled checkpoint, so the text line is expected
to follow the sentences' sentiment.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import firf
from firf.cli import main
from firf.errors import InputError
from firf.pipeline import Pipeline
from firf.timeline import split, utterances
from firf.weights import BUNDLED_WEIGHTS
from tools import media

pytestmark = pytest.mark.slow

SECONDS = 120.0
SENTENCES = [  # (start in seconds, sentence, sign of its sentiment)
    (4.0, "I absolutely loved this wonderful film.", 1),
    (22.0, "The service was terrible and the food was awful.", -1),
    (40.0, "What a beautiful, happy day with my friends.", 1),
    (58.0, "I hate this boring and painful movie.", -1),
    (76.0, "The music was great and the acting was brilliant.", 1),
    (94.0, "This was a horrible waste of my money.", -1),
]
FPS = 5  # the pipeline's frame rate
NO_FACE = [(36.0, 48.0), (104.0, SECONDS)]  # the speaker is out of the picture


def face_shown(t: float) -> bool:
    return not any(start <= t < end for start, end in NO_FACE)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("long")
    track, rate = None, None
    for start, sentence, _ in SENTENCES:
        rate, pcm = media.read_wav(media.speech_wav(root / "sentence.wav", sentence))
        if track is None:
            track = np.zeros(int(SECONDS * rate), np.float32)
        track[int(start * rate) : int(start * rate) + pcm.size] = pcm / 32768
    sound = media.write_wav(root / "track.wav", track, rate)
    return media.face_in_and_out_clip(root / "long.mp4", SECONDS, face_shown, audio_wav=sound)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.from_pretrained(BUNDLED_WEIGHTS, device="cpu")


@pytest.fixture(scope="module")
def full(pipeline, recording):
    return firf.predict(video=recording, timeline=True, pipeline=pipeline)


@pytest.fixture(scope="module")
def without_vision(pipeline, recording):
    return firf.predict(video=recording, timeline=True, drop="vision", pipeline=pipeline)


@pytest.fixture(scope="module")
def without_text(pipeline, recording):
    return firf.predict(video=recording, timeline=True, drop="text", pipeline=pipeline)


def spoken(points: list[dict]) -> list[dict]:
    return [p for p in points if p["modalities"]["audio"] is not None]


def test_one_point_per_utterance_in_time_order(full):
    points = full.timeline
    starts = [p["start"] for p in points]
    assert starts == sorted(starts)
    assert all(a["end"] <= b["start"] + 1e-9 for a, b in zip(points, points[1:], strict=False))
    speech = spoken(points)
    assert len(speech) == len(SENTENCES)
    for point, (start, _, _) in zip(speech, SENTENCES, strict=True):
        assert point["start"] <= start + 0.1 and start + 2.0 < point["end"] < start + 6.0
        assert point["modalities"]["text"] is not None
    # Quiet stretches get windows of a few seconds with no words and no sound in them.
    quiet = [p for p in points if p not in speech]
    assert len(quiet) > 10 and all(p["modalities"]["text"] is None for p in quiet)
    assert all(1.0 < p["end"] - p["start"] < 8.0 for p in quiet)
    assert points[-1]["end"] < 104.0 + 6.0  # silence, nobody in the picture: nothing to score


def test_text_line_follows_the_sentences(full):
    text = [p["modalities"]["text"] for p in spoken(full.timeline)]
    positive = [score for score, (_, _, sign) in zip(text, SENTENCES, strict=True) if sign > 0]
    negative = [score for score, (_, _, sign) in zip(text, SENTENCES, strict=True) if sign < 0]
    assert min(positive) > 0.5 and max(negative) < -0.5
    assert "wonderful film" in full.transcript and "waste of my" in full.transcript


def test_vision_line_drops_out_where_the_face_leaves(full):
    for point in full.timeline:
        frames = range(int(np.ceil(point["start"] * FPS)), int(np.ceil(point["end"] * FPS)))
        has_face = point["modalities"]["vision"] is not None
        assert has_face == any(face_shown(i / FPS) for i in frames), point
    assert full.coverage["vision"]["face_share"] == pytest.approx(1 - 28 / 120, abs=0.01)


def test_switching_a_modality_off_changes_only_its_line(full, without_vision, without_text):
    for reduced, off in ((without_vision, "vision"), (without_text, "text")):
        kept = [
            p
            for p in full.timeline
            if any(p["modalities"][m] is not None for m in p["modalities"] if m != off)
        ]
        assert [(p["start"], p["end"]) for p in reduced.timeline] == [
            (p["start"], p["end"]) for p in kept
        ]
        changed = 0
        for before, after in zip(kept, reduced.timeline, strict=True):
            assert after["modalities"][off] is None
            for m in before["modalities"]:
                if m != off:
                    assert after["modalities"][m] == before["modalities"][m]
            changed += before["modalities"][off] is not None and after["score"] != before["score"]
        assert changed > 0
    assert without_text.transcript is None  # the text is off and nobody asked for the words


def test_to_dict_and_cli_carry_the_timeline(capsys, full, recording):
    assert json.loads(json.dumps(full.to_dict()))["timeline"] == full.timeline
    short = recording.parent / "short.wav"
    rate, pcm = media.read_wav(recording.parent / "track.wav")
    media.write_wav(short, pcm[int(2 * rate) : int(30 * rate)] / 32768, rate)
    code = main(["predict", "--audio", str(short), "--timeline", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and len(spoken(result["timeline"])) == 2


def test_split_tiles_the_clip():
    rate = 16_000
    wave = np.zeros(30 * rate, np.float32)
    for start in (3.0, 3.9, 12.0):  # a 0.4 s pause is inside one utterance
        wave[int(start * rate) : int((start + 0.5) * rate)] = media.tone(0.5, sample_rate=rate)
    assert [(round(a, 2), round(b, 2)) for a, b in utterances(wave)] == [
        (2.65, 4.75),
        (11.65, 12.85),
    ]
    segments = split(wave, 30.0)
    assert segments[0].start == 0.0 and segments[-1].end == 30.0
    assert all(a.end == b.start for a, b in zip(segments, segments[1:], strict=False))
    assert [s.speech for s in segments].count(True) == 2


def test_typed_text_is_refused(pipeline, recording):
    with pytest.raises(InputError, match="typed text"):
        firf.predict(video=recording, text="great", timeline=True, pipeline=pipeline)


def test_app_shows_the_timeline_of_a_long_clip_within_its_cap(recording):
    from app.ui import Analyzer

    capped = Pipeline.from_pretrained(BUNDLED_WEIGHTS, device="cpu", max_seconds=30.0)
    analyzer = Analyzer(capped)
    pred = firf.predict(video=recording, drop="text", pipeline=capped)
    figure = analyzer.timeline_figure(str(recording), None, "", ["audio", "vision"], pred)
    ax = figure.axes[0]
    drawn = {line.get_label() for line in ax.get_lines()}
    assert {"audio", "vision", "all kept"} <= drawn and "text" not in drawn
    assert ax.get_xlim()[1] == pytest.approx(30.0, abs=0.1)
    short = firf.predict(text="fine", pipeline=capped)
    assert analyzer.timeline_figure(None, None, "fine", ["text"], short) is None
