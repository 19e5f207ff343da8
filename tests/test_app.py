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
from app.plots import score_gauge_html, subset_chart
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


def test_chart_marks_full_input_and_selection():
    scores = {"t": 1.0, "a": -0.2, "v": 0.1, "ta": 1.2, "tv": 0.9, "av": 0.0, "tav": 1.1}
    fig = subset_chart(scores, full="tav", selected="av", after_loss=(0.4, -1.3))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["t", "a", "v", "t+a", "t+v", "a+v", "t+a+v"]
    bars = {label: bar for label, bar in zip(labels, ax.patches, strict=True)}
    assert bars["t+a+v"].get_hatch() == "//"
    assert bars["a+v"].get_linewidth() > bars["t"].get_linewidth()
    assert [b.get_height() for b in ax.patches] == pytest.approx(list(scores.values()))
    (diamond,) = [line for line in ax.get_lines() if line.get_marker() == "D"]
    centre = bars["a+v"].get_x() + bars["a+v"].get_width() / 2
    assert (diamond.get_xdata()[0], diamond.get_ydata()[0]) == pytest.approx((centre, -1.3))
