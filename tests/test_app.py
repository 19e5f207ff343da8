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

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from firf.weights import BUNDLED_WEIGHTS
from tools import media

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
