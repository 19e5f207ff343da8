"""The Gradio demo: `python app.py` served on a free local port and called through gradio_client.

The server runs the real extractors (Whisper, Face Mesh, MiniLM) and the bundled checkpoint,
exactly what a person who runs `python app.py` gets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import media
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from app.examples import build_examples
from app.explain import coverage_rows, explain
from app.plots import loss_label, score_gauge_html, subset_chart, subset_name
from firf.weights import BUNDLED_WEIGHTS

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
ALL = ["text", "audio", "vision"]
START_TIMEOUT_S = 240.0
SPOKEN = "I really loved this film and the music was wonderful."


@contextmanager
def serve_app(folder: Path, weights: Path) -> Iterator[str]:
    """`python app.py` on a free 127.0.0.1 port; yields its URL once the page serves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
    )
    log_path = folder / "server.log"
    command = [
        sys.executable,
        "app.py",
        "--weights",
        str(weights),
        "--examples-dir",
        str(folder / "examples"),
    ]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"app.py did not serve {url}:\n{log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("app")
    with serve_app(folder, BUNDLED_WEIGHTS) as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False, analytics_enabled=False)


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    speech = media.speech_wav(folder / "speech.wav", SPOKEN)
    return media.face_clip(folder / "talking.mp4", seconds=3.5, fps=10, audio_wav=speech)


def analyze(client: Client, video=None, audio=None, text="", modalities=ALL) -> dict:
    return client.predict(
        handle_file(str(video)) if video else None,
        handle_file(str(audio)) if audio else None,
        text,
        modalities,
        api_name="/analyze",
    )


def assert_prediction(result: dict) -> None:
    assert -3.0 <= result["score"] <= 3.0
    expected = "neutral" if abs(result["score"]) < 0.5 else "positive"
    if result["score"] <= -0.5:
        expected = "negative"
    assert result["label"] == expected


def test_analyze_is_the_one_public_endpoint_with_the_documented_parameters(client: Client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert list(endpoints) == ["/analyze"]
    names = [p["parameter_name"] for p in endpoints["/analyze"]["parameters"]]
    assert names == ["video", "audio", "text", "modalities"]


def test_text_only(client: Client):
    result = analyze(
        client, text="What a wonderful, heartfelt movie. I loved it.", modalities=["text"]
    )
    assert_prediction(result)
    assert result["used"] == ["text"]
    assert result["text_source"] == "typed"
    assert result["transcript"] is None
    assert result["coverage"]["text"]["tokens"] > 5
    again = analyze(
        client, text="What a wonderful, heartfelt movie. I loved it.", modalities=["text"]
    )
    assert again["score"] == result["score"]


def test_clip_with_face_and_speech_uses_all_three(client: Client, talking_clip: Path):
    result = analyze(client, video=talking_clip)
    assert_prediction(result)
    assert result["used"] == ALL
    assert result["text_source"] == "transcript"
    assert "loved" in result["transcript"].lower()
    assert result["coverage"]["vision"]["face_share"] > 0.8
    assert result["coverage"]["audio"]["seconds"] == pytest.approx(3.5, abs=0.3)


def test_switching_a_modality_off_changes_what_reaches_the_model(
    client: Client, talking_clip: Path
):
    full = analyze(client, video=talking_clip)
    without_text = analyze(client, video=talking_clip, modalities=["audio", "vision"])
    assert without_text["used"] == ["audio", "vision"]
    assert without_text["text_source"] is None
    assert without_text["score"] != full["score"]


def test_everything_switched_off_is_a_readable_error(client: Client):
    with pytest.raises(AppError, match="every modality is switched off") as error:
        analyze(client, text="hello there", modalities=[])
    assert "Traceback" not in str(error.value)


def test_corrupt_video_is_a_readable_error(client: Client, tmp_path: Path, talking_clip: Path):
    broken = media.corrupt_file(tmp_path / "broken.mp4", source=talking_clip)
    with pytest.raises(AppError, match="broken.mp4") as error:
        analyze(client, video=broken)
    assert "Traceback" not in str(error.value)


def test_no_input_at_all_is_a_readable_error(client: Client):
    with pytest.raises(AppError, match="nothing to analyse"):
        analyze(client)


def test_bundled_checkpoint_tells_praise_from_complaint(client: Client):
    praise = analyze(client, text="What a wonderful, heartfelt movie. I loved every minute.")
    complaint = analyze(client, text="A dull, painful waste of two hours. I hated it.")
    assert praise["score"] > complaint["score"]


def test_start_without_a_checkpoint_says_what_to_do(tmp_path: Path):
    run = subprocess.run(
        [
            sys.executable,
            "app.py",
            "--weights",
            str(tmp_path / "nowhere"),
            "--examples-dir",
            str(tmp_path / "examples"),
        ],
        cwd=REPO_ROOT,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "app.py: no checkpoint folder" in run.stderr
    assert "Traceback" not in run.stderr


def test_examples_are_real_media(tmp_path: Path):
    examples = build_examples(tmp_path)
    talking = next(e for e in examples if e.video and e.modalities == ALL and e.intra_rate == 0)
    with av.open(talking.video) as clip:
        assert {s.type for s in clip.streams} == {"video", "audio"}
        assert clip.duration / 1e6 > 2.0
    assert any(e.audio and Path(e.audio).stat().st_size > 10_000 for e in examples)
    assert any(e.modalities != ALL for e in examples)  # one shows a modality switched off
    # A second start reuses the generated files instead of writing them again.
    stamp = Path(talking.video).stat().st_mtime_ns
    build_examples(tmp_path)
    assert Path(talking.video).stat().st_mtime_ns == stamp


def test_examples_without_espeak_keep_text_and_face(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # espeak-ng not on PATH
    examples = build_examples(tmp_path)
    assert all(e.audio is None for e in examples)
    assert any(e.text and not e.video for e in examples)
    assert any(e.video for e in examples)


def test_gauge_marks_the_score_and_clamps_it():
    assert 'data-score="1.2500"' in score_gauge_html(1.25, "positive")
    assert "left:100.0%" in score_gauge_html(7.0, "positive")
    assert "left:0.0%" in score_gauge_html(-3.0, "negative")
    assert "left:50.0%" in score_gauge_html(0.0, "neutral")


SCORES = {"t": -1.4, "a": 0.2, "v": 1.5, "ta": -1.1, "tv": 0.3, "av": 1.2, "tav": 0.35}


def test_chart_marks_full_input_selection_and_loss():
    fig = subset_chart(SCORES, full="tav", selected="av", after_loss=(0.4, -1.3))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [subset_name(s) for s in SCORES]
    assert labels[-1] == "text+audio+vision"
    rows = {label.get_text(): label.get_position()[1] for label in ax.get_yticklabels()}
    bars = {round(bar.get_y() + bar.get_height() / 2): bar for bar in ax.patches}
    by_name = {name: bars[round(row)] for name, row in rows.items()}
    assert by_name["text"].get_y() > by_name["text+audio+vision"].get_y()  # first subset on top
    assert by_name["text+audio+vision"].get_hatch() == "//"
    assert by_name["audio+vision"].get_linewidth() > by_name["text"].get_linewidth()
    assert [by_name[subset_name(s)].get_width() for s in SCORES] == pytest.approx(
        list(SCORES.values())
    )
    (ring,) = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert ring.get_markersize() >= 12  # the simulated loss must be easy to see
    assert (ring.get_xdata()[0], ring.get_ydata()[0]) == pytest.approx((-1.3, rows["audio+vision"]))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "with 40% of frames dropped: -1.30" in legend  # audio and vision: no tokens


def test_chart_values_sit_outside_the_plot_where_no_line_crosses_them():
    fig = subset_chart(SCORES, full="tav", selected="tav")
    ax = fig.axes[0]
    values = [t for t in ax.texts if t.get_text().startswith(("+", "-"))]
    assert len(values) == len(SCORES)
    assert all(t.get_position()[0] > 1 for t in values)  # x in axes units: right of the plot
    assert "+0.35 neutral" in [t.get_text() for t in values]


def test_chart_of_a_single_modality_is_a_short_strip_with_a_visible_value():
    one = subset_chart({"t": 0.02}, full="t", selected="t")
    seven = subset_chart(SCORES, full="tav", selected="tav")
    assert one.get_figheight() < seven.get_figheight() / 2
    ax = one.axes[0]
    (tick,) = [line for line in ax.get_lines() if line.get_marker() == "|"]
    assert tick.get_xdata()[0] == pytest.approx(0.02)
    assert not [line for line in ax.get_lines() if line.get_linestyle() == "--"]


def test_loss_label_names_what_was_dropped():
    assert loss_label(0.7, "tav") == "70% of frames and tokens"
    assert loss_label(0.7, "t") == "70% of tokens"
    assert loss_label(0.3, "av") == "30% of frames"


def test_explanation_says_which_modality_pulled_which_way():
    lines = explain(SCORES, full="tav", selected="tv", after_loss=(0.5, -0.2)).splitlines()
    assert len(lines) == len(SCORES) + 1  # one per subset on the chart, then the loss
    assert lines[0] == "- The words alone read **-1.40** (negative)."
    assert lines[2] == "- The face alone reads **+1.50** (positive)."
    assert lines[4] == (
        "- The words and the face together read **+0.30** (neutral): the words (-1.40) pull "
        "down, the face (+1.50) pulls up; they cancel out — *your selection, the score above*."
    )
    assert "the voice (+0.20) stays near neutral, the face (+1.50) pulls up." in lines[5]
    assert lines[6].endswith("*every input you gave*.")
    assert "50% of frames and tokens dropped" in lines[7] and "**-0.20**" in lines[7]


def test_explanation_names_the_winner_of_a_disagreement():
    text = explain({"t": -1.0, "v": 2.0, "tv": 1.2}, full="tv", selected="tv")
    assert "the words (-1.00) pull down, the face (+2.00) pulls up; the face wins" in text
    assert explain({"t": 0.1}, full="t", selected="t") == (
        "- The words alone read **+0.10** (neutral) — *your selection, the score above*."
    )


def test_coverage_reports_frames_and_tokens_the_simulated_loss_dropped():
    coverage = {
        "text": {"tokens": 12, "observed": 12, "dropped": 8},
        "audio": {"seconds": 3.04},
        "vision": {"frames": 30, "face_share": 1.0, "observed": 30, "dropped": 21},
    }
    rows = coverage_rows(coverage, used=("text", "vision"), switched_off=("audio",))
    assert rows == [
        ("text", "used", "12 tokens; simulated loss: 8 of 12 tokens dropped, 4 reach the model"),
        ("audio", "switched off", "3.0 s of sound"),
        (
            "vision",
            "used",
            "face in 100% of 30 frames; simulated loss: 21 of 30 frames dropped, 9 reach the model",
        ),
    ]
    assert coverage_rows({"text": {"tokens": 5}}, ("text",), ())[1] == ("audio", "not given", "-")
