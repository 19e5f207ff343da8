"""Hostile input through every door: bounded memory and time, one-line errors, no lost batch.

Every hostile input is generated here: wavs at sample rates whose ratio to 16 kHz does not
reduce (11,127 Hz, 44,101 Hz), a video whose single frame claims to last an hour, text with
undecodable bytes and lone surrogates, batch files with malformed, non-UTF-8, deeply nested and
overlong lines, an endless file (/dev/zero) and devices that do not exist. Memory and time are
measured on a subprocess (its own peak RSS from ``wait4``); nothing sleeps.
"""

from __future__ import annotations

import io
import json
import logging
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torchaudio.functional

from firf.cli import main
from firf.device import resolve_device
from firf.errors import InputError
from firf.extract.decode import SAMPLE_RATE, _to_16k, load_audio
from firf.jobs import JobLimits, parse_jobs, read_jobs
from firf.sanitize import MAX_TEXT_CHARS, clean_text, printable
from tools import media
from tools.peak_rss import run_measured

ROOT = Path(__file__).resolve().parent.parent
PEAK_RSS_LIMIT_MB = 2500  # the bound for any door
HANG_GUARD_S = 300  # far above any case here: only a runaway process reaches it
ODD_RATES = (11_127, 44_101)


def measured(argv: list[str]) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, peak RSS in MB) of `argv` run from the repository root."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    try:
        run = run_measured(argv, ROOT, env, timeout_s=HANG_GUARD_S)
    except TimeoutError as error:
        pytest.fail(str(error))
    return run.code, run.stdout, run.stderr, run.peak_mb


@pytest.fixture(scope="module")
def hostile_media(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    files = {
        f"wav_{rate}": media.tone_wav(root / f"tone_{rate}.wav", 4.0, 440.0, rate)
        for rate in ODD_RATES
    }
    files["one_frame_hour"] = media.one_frame_video(root / "one_frame_hour.mp4", 3600)
    return files


# --- sample rates -------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8_000, 16_000, 22_050, 44_100, 48_000])
def test_common_rates_give_the_samples_they_always_gave(tmp_path, rate):
    sound = media.tone(1.5, 440.0, rate)
    expected = torchaudio.functional.resample(torch.from_numpy(sound), rate, SAMPLE_RATE)
    np.testing.assert_array_equal(_to_16k(sound, rate), expected.numpy())
    pcm_path = media.tone_wav(tmp_path / "tone.wav", 1.5, 440.0, rate)
    _, pcm = media.read_wav(pcm_path)
    from_file = torchaudio.functional.resample(
        torch.from_numpy(pcm.astype(np.float32) / 32768.0), rate, SAMPLE_RATE
    )
    np.testing.assert_allclose(load_audio(pcm_path), from_file.numpy(), atol=1e-6)


@pytest.mark.parametrize("rate", [*ODD_RATES, 8_001, 383_999])
def test_odd_rates_resample_faithfully(rate):
    """The tone comes out at 16 kHz as the same tone (> 40 dB SNR against the exact signal)."""
    seconds = 2.0
    sound = media.tone(seconds, 440.0, rate).astype(np.float64)
    out = _to_16k(sound.astype(np.float32), rate)
    assert out.dtype == np.float32 and abs(out.size - seconds * SAMPLE_RATE) <= 1
    exact = 0.3 * np.sin(2 * np.pi * 440.0 * np.arange(out.size) / SAMPLE_RATE)
    error = (out - exact)[400:-400]
    assert 10 * np.log10(np.mean(exact[400:-400] ** 2) / np.mean(error**2)) > 40


@pytest.mark.parametrize("rate", [0, 999, 400_000, 10**9])
def test_rates_outside_speech_are_one_line_errors(rate):
    with pytest.raises(InputError, match="supported rates"):
        load_audio((rate, np.zeros(1000, np.float32)) if rate else (1, np.zeros(5)))


def test_decoding_hostile_media_stays_bounded(hostile_media):
    """Odd-rate wavs (file and array) and a one-frame video claiming an hour, in one process."""
    script = f"""
import json, warnings
import numpy as np
from firf.extract.decode import load_audio, load_video
from tools.media import read_wav
out = {{}}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for rate in {list(ODD_RATES)}:
        path = "{hostile_media["wav_11127"].parent}/tone_%d.wav" % rate
        out["file_%d" % rate] = load_audio(path).size
        out["array_%d" % rate] = load_audio(read_wav(path)).size
    clip = load_video("{hostile_media["one_frame_hour"]}", fps=10)
    out["frames"], out["duration"] = len(clip.frames), clip.duration
out["warnings"] = [str(w.message) for w in caught]
print(json.dumps(out))
"""
    code, stdout, stderr, peak = measured([sys.executable, "-c", script])
    assert code == 0, stderr
    result = json.loads(stdout)
    for rate in ODD_RATES:
        assert abs(result[f"file_{rate}"] - 4 * SAMPLE_RATE) <= 1
        assert abs(result[f"array_{rate}"] - 4 * SAMPLE_RATE) <= 1
    assert result["frames"] == 600 and result["duration"] == 60.0  # 60 s at 10 fps, not 36,000
    assert any("only the first 60 s" in w for w in result["warnings"])
    assert peak < PEAK_RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"


# --- text ---------------------------------------------------------------------------------------


def test_text_is_cleaned_with_a_warning_for_each_change():
    assert clean_text("a fine day") == ("a fine day", [])
    text, warnings = clean_text(b"caf\xc3\xa9 \xff\xfe ok")
    assert text == "café \ufffd\ufffd ok" and "UTF-8" in warnings[0]
    text, warnings = clean_text("bad \ud800 surrogate, escaped byte \udcff")
    assert text == "bad  surrogate, escaped byte \ufffd" and "surrogates" in warnings[0]
    text.encode("utf-8")  # what the tokenizer needs
    text, warnings = clean_text("x" * (MAX_TEXT_CHARS + 5))
    assert len(text) == MAX_TEXT_CHARS and "characters" in warnings[0]
    with pytest.raises(InputError, match="string"):
        clean_text(42)
    assert (
        printable("no such file: \udcff.mp4\nsecond line") == "no such file: \ufffd.mp4 second line"
    )


# --- batch reading ------------------------------------------------------------------------------


def test_every_line_of_a_hostile_batch_gets_a_job_or_an_error_in_order(tmp_path):
    lines = [
        json.dumps({"text": "fine"}).encode(),
        b"{not json",
        b"",  # blank: an error record, so records and lines pair up
        b'{"text": "caf\xc3\xa9 \xff\xfe"}',  # non-UTF-8 inside a value: replaced, kept
        b"[" * 2000 + b"]" * 2000,  # nesting that made json recurse past its limit
        b'{"text": "' + b"a" * 5000 + b'"}',  # over the line limit below
        json.dumps({"text": 'brackets [[[[ in a string \\" are fine'}).encode(),
        json.dumps({"smell": "roses"}).encode(),
        json.dumps({"text": "last"}).encode(),
    ]
    limits = JobLimits(max_line_bytes=4096)
    jobs = list(parse_jobs(io.BytesIO(b"\n".join(lines)), tmp_path, limits))
    assert [job.line for job in jobs] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    errors = {job.line: job.error for job in jobs if job.error}
    assert set(errors) == {2, 3, 5, 6, 8}
    assert "line 3 is blank" in errors[3]
    assert "line 2 is not valid JSON" in errors[2]
    assert "nests" in errors[5] and "longer than 4,096 bytes" in errors[6]
    assert "keys among" in errors[8]
    assert jobs[3].fields["text"] == "café \ufffd\ufffd" and "UTF-8" in jobs[3].warnings[0]
    assert jobs[-1].fields == {"text": "last"}


def test_an_endless_batch_stops_at_the_size_limit():
    limits = JobLimits(max_line_bytes=1024, max_total_bytes=1 << 20)
    with open("/dev/zero", "rb") as endless:
        jobs = list(parse_jobs(endless, Path("/"), limits))
    assert len(jobs) == 1 and "reading stopped" in jobs[0].error


def test_reading_dev_zero_with_default_limits_stays_bounded():
    script = "from firf.jobs import read_jobs; print([j.error for j in read_jobs('/dev/zero')])"
    code, stdout, stderr, peak = measured([sys.executable, "-c", script])
    assert code == 0 and "reading stopped" in stdout and not stderr
    assert peak < 500, f"peak RSS {peak:.0f} MB"


def test_an_unreadable_batch_file_is_one_error(tmp_path):
    with pytest.raises(InputError, match="cannot read the batch file"):
        list(read_jobs(str(tmp_path / "missing.jsonl")))


# --- devices ------------------------------------------------------------------------------------

DEVICE_COMMANDS = {
    "predict": ["--text", "hi"],
    "extract": ["--root", "corpus", "--out", "shards"],
    "train": ["--synthetic", "--out", "run"],
    "evaluate": ["--checkpoint", "run", "--synthetic"],
    "bench": ["robustness", "--tiny"],
}


@pytest.mark.parametrize("command", sorted(DEVICE_COMMANDS))
@pytest.mark.parametrize("device", ["bogus", "cuda:7"])
def test_a_bad_device_is_one_line_in_every_command(capsys, command, device):
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has that GPU")
    code = main([command, *DEVICE_COMMANDS[command], "--device", device])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert device in err and ("unknown device" in err or "GPU" in err)


def test_cuda_without_a_gpu_says_so():
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
        return
    with pytest.raises(InputError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device(None).type == "cpu" and resolve_device("cpu").type == "cpu"


def test_the_app_refuses_a_bad_device_before_loading_anything(capsys):
    from app.config import parse_args

    with pytest.raises(SystemExit) as exited:
        parse_args(["--device", "bogus"])
    assert exited.value.code == 2 and "unknown device 'bogus'" in capsys.readouterr().err


# --- the app ------------------------------------------------------------------------------------


def test_the_app_logs_an_expected_error_as_one_line(caplog):
    import gradio as gr

    from app.ui import readable_errors

    with caplog.at_level(logging.INFO, logger="app"), pytest.raises(gr.Error):  # noqa: SIM117
        with readable_errors():
            raise InputError("the audio is empty\n(zero samples) \udcff")
    (record,) = [r for r in caplog.records if r.name == "app"]
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert "the audio is empty (zero samples)" in record.getMessage()


def test_a_request_over_its_budget_is_answered_and_later_ones_wait_their_turn():
    import gradio as gr

    from app.budget import RequestBudget

    release = threading.Event()
    started = []

    def handler(name: str) -> str:
        started.append(name)
        release.wait()
        return name

    budget = RequestBudget(seconds=0.05, workers=1)
    wrapped = budget.wrap(handler)
    with pytest.raises(gr.Error, match="longer than 0.05 s"):
        wrapped("first")
    with pytest.raises(gr.Error):  # waits behind the overrunning first one, then gives up
        wrapped("second")
    assert started == ["first"]  # never two analyses at once on a one-worker budget
    release.set()
    assert RequestBudget(seconds=10).wrap(lambda: "done")() == "done"


# --- whole doors, with the real models ----------------------------------------------------------


@pytest.mark.slow
def test_a_hostile_batch_through_the_command_keeps_every_line_bounded(hostile_media, tmp_path):
    lines = [
        json.dumps({"audio": str(hostile_media["wav_11127"]), "text": "an odd rate"}),
        json.dumps({"audio": str(hostile_media["wav_44101"]), "drop": ["text"]}),
        json.dumps({"video": str(hostile_media["one_frame_hour"]), "text": "one long frame"}),
        '{"text": "lone \\ud800 surrogate"}',
        "{broken",
        "[" * 50_000,
        json.dumps({"text": "x" * 20_000}),
        json.dumps({"text": "a plain sentence"}),
    ]
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_bytes("\n".join(lines).encode() + b"\n" + b'{"text": "\xff\xfe bytes"}\n')
    code, stdout, stderr, peak = measured(
        [sys.executable, "-m", "firf", "predict", "--batch", str(jobs), "--weights", "weights"]
    )
    records = [json.loads(line) for line in stdout.splitlines()]
    assert code == 1 and "Traceback" not in stderr, stderr
    assert [r["line"] for r in records] == list(range(1, 10))
    assert [("error" in r) for r in records] == [False] * 4 + [True] * 2 + [False] * 3
    assert records[2]["coverage"]["vision"]["frames"] == 300  # 60 s at 5 fps
    assert any("first 60 s" in w for w in records[2]["warnings"])
    assert any("surrogates" in w for w in records[3]["warnings"])
    assert any("20,000 characters" in w for w in records[6]["warnings"])
    assert any("UTF-8" in w for w in records[8]["warnings"])
    assert peak < PEAK_RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"


@pytest.mark.slow
def test_undecodable_argv_text_is_analysed_not_a_traceback():
    code, stdout, stderr, _ = measured(
        [sys.executable, "-m", "firf", "predict", "--json", "--weights", "weights", "--text"]
        + [os.fsdecode(b"caf\xc3\xa9 \xff good")]
    )
    assert code == 0 and "Traceback" not in stderr, stderr
    result = json.loads(stdout)
    assert result["used"] == ["text"] and any("surrogates" in w for w in result["warnings"])


@pytest.mark.slow
def test_batched_text_jobs_score_as_they_do_one_by_one():
    from firf.job_runner import RunOptions, run_jobs
    from firf.pipeline import Pipeline, predict

    pipeline = Pipeline.from_pretrained("weights", device="cpu")
    texts = ["great", "this was a terrible waste of my evening", "fine \ud800", "ok " * 400]
    payload = b"\n".join(json.dumps({"text": t}).encode() for t in texts) + b"\n{bad\n"
    out = io.StringIO()
    done, failed = run_jobs(
        pipeline,
        parse_jobs(io.BytesIO(payload), ROOT),
        RunOptions(workers=2, progress_every=0),
        out,
    )
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (done, failed) == (5, 1) and [r["line"] for r in records] == [1, 2, 3, 4, 5]
    for text, record in zip(texts, records, strict=False):
        alone = predict(text=text, pipeline=pipeline)
        assert record["score"] == pytest.approx(alone.score, abs=1e-4)
        assert record["coverage"] == alone.coverage and record["warnings"] == alone.warnings


@pytest.mark.slow
def test_each_record_is_written_as_soon_as_its_job_is_done():
    """From a pipe, a job's record comes out while the batch is still open, so an interrupted
    run keeps every record it finished."""
    process = subprocess.Popen(
        [sys.executable, "-m", "firf", "predict", "--batch", "-", "--weights", "weights"],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        process.stdin.write(json.dumps({"text": "what a lovely day"}) + "\n{bad\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], HANG_GUARD_S)
        assert ready, "no record while the batch was open"
        first, second = json.loads(process.stdout.readline()), process.stdout.readline()
        assert first["line"] == 1 and "score" in first and "line 2" in second
    finally:
        process.kill()  # the interruption: what was written stays written
        process.communicate()
