"""`python -m firf predict` and `python -m firf extract` with real media and extractors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_predict import RESULT_KEYS, SPOKEN

from firf.cli import main
from firf.data.shards import load_shards
from firf.extract.vision import VISION_DIM
from tools import media

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checkpoint(random_checkpoint) -> Path:
    return random_checkpoint


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    speech = media.speech_wav(root / "speech.wav", SPOKEN)
    return {
        "speech": speech,
        "face_speech": media.face_clip(root / "face.mp4", seconds=2.0, audio_wav=speech),
        "blank": media.blank_clip(root / "blank.mp4"),
        "corrupt": media.corrupt_file(root / "broken.wav"),
    }


def predict_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["predict", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output(capsys, checkpoint):
    code, out, _ = predict_cli(
        capsys, "--text", "a fine day", "--weights", str(checkpoint), "--json"
    )
    result = json.loads(out)
    assert code == 0 and set(result) == RESULT_KEYS
    assert result["used"] == ["text"] and result["label"] in {"negative", "neutral", "positive"}


def test_drop_is_parsed_and_transcript_still_feeds_text(capsys, checkpoint, files):
    code, out, _ = predict_cli(
        capsys, "--video", str(files["face_speech"]), "--drop", "vision, a", "--json",
        "--weights", str(checkpoint),
    )  # fmt: skip
    result = json.loads(out)
    assert code == 0 and result["used"] == ["text"] and result["text_source"] == "transcript"
    assert "movie" in result["transcript"].lower()


def test_transcript_is_opt_in_when_text_is_off(capsys, checkpoint, files):
    common = ["--audio", str(files["speech"]), "--drop", "text", "--json"]
    code, out, _ = predict_cli(capsys, *common, "--weights", str(checkpoint))
    assert code == 0 and json.loads(out)["transcript"] is None
    code, out, _ = predict_cli(capsys, *common, "--transcript", "--weights", str(checkpoint))
    result = json.loads(out)
    assert code == 0 and result["used"] == ["audio"] and "movie" in result["transcript"].lower()


def test_human_summary(capsys, checkpoint, files):
    code, out, _ = predict_cli(
        capsys, "--video", str(files["blank"]), "--text", "fine", "--weights", str(checkpoint)
    )
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[0] in {"negative", "neutral", "positive"} and "from text" in lines[0]
    assert "vision: face in 0% of 5 frames" in lines
    assert any(line.startswith("warning: vision missing") for line in lines)


def test_batch_continues_after_a_bad_line(capsys, checkpoint, files, tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    (tmp_path / "clips").mkdir()
    blank = tmp_path / "clips" / "blank.mp4"
    blank.write_bytes(files["blank"].read_bytes())
    jobs.write_text(
        json.dumps({"text": "what a great film"})
        + "\n{not json\n\n"
        + json.dumps({"video": "clips/blank.mp4", "text": "ok", "drop": ["t"]})  # no face
        + "\n"
        + json.dumps({"video": "clips/blank.mp4", "text": "ok", "drop": ["a"]})  # relative path
        + "\n"
        + json.dumps({"text": "ok", "drop": 5})
        + "\n"
    )
    code = main(["predict", "--batch", str(jobs), "--weights", str(checkpoint)])
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1 and len(results) == 6  # one record per line, the blank one included
    assert results[0]["used"] == ["text"]
    assert "line 2" in results[1]["error"] and "JSON" in results[1]["error"]
    assert "line 3 is blank" in results[2]["error"]
    assert "no face" in results[3]["error"]
    assert results[4]["used"] == ["text"] and results[4]["coverage"]["vision"]["frames"] == 5
    assert "list of names" in results[5]["error"]


def test_unknown_drop_is_a_one_line_error(capsys, checkpoint):
    code, out, err = predict_cli(
        capsys, "--text", "hi", "--drop", "smell", "--weights", str(checkpoint)
    )
    assert code == 2 and out == ""
    assert err.strip().startswith("error: unknown modality 'smell'") and len(err.splitlines()) == 1


def test_corrupt_file_exits_2_without_traceback(checkpoint, files):
    run = subprocess.run(
        [sys.executable, "-m", "firf", "predict", "--audio", str(files["corrupt"]), "--json",
         "--weights", str(checkpoint)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2 and run.stdout == ""
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.wav" in errors[0]
    assert "Traceback" not in run.stderr


def write_corpus(root: Path, files: dict[str, Path]) -> Path:
    """MMSA-FET layout: two good clips and a corrupt one."""
    rows = [
        ("vidA", "1", "this movie is wonderful", 2.4, "train", files["face_speech"]),
        ("vidA", "2", "it was boring", -1.2, "valid", files["blank"]),
        ("vidB", "7", "no idea", 0.0, "test", files["corrupt"]),
    ]
    root.mkdir()
    with (root / "label.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video_id", "clip_id", "text", "label", "mode"])
        for video_id, clip_id, text, label, mode, source in rows:
            (root / "Raw" / video_id).mkdir(parents=True, exist_ok=True)
            (root / "Raw" / video_id / f"{clip_id}.mp4").write_bytes(source.read_bytes())
            writer.writerow([video_id, clip_id, text, label, mode])
    return root


def test_extract_corpus_skips_failures_and_resumes(capsys, files, tmp_path):
    corpus = write_corpus(tmp_path / "corpus", files)
    out = tmp_path / "shards"
    args = ["extract", "--root", str(corpus), "--out", str(out)]

    assert main(args) == 1  # the corrupt clip failed, the others are stored
    printed = capsys.readouterr()
    assert "vidB$_$7" in printed.err and "2 extracted now, 0 already there, 1 failed" in printed.out
    shards = load_shards(out)
    assert shards.ids == ["vidA$_$1", "vidA$_$2"]
    face, blank = shards.samples
    assert face["text"].shape[1] == 384 and face["audio"].shape[1] == 512
    assert face["vision"].shape[1] == VISION_DIM and face["vision_mask"].mean() >= 0.8
    assert blank["vision"].shape == (0, VISION_DIM) and blank["audio"].shape == (0, 512)
    assert shards.labels.tolist() == pytest.approx([2.4, -1.2])
    assert load_shards(out, split="valid").ids == ["vidA$_$2"]
    stored = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")}

    (corpus / "Raw" / "vidB" / "7.mp4").write_bytes(files["blank"].read_bytes())  # repaired
    assert main(args) == 0
    assert "1 extracted now, 2 already there, 0 failed" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz") if p.name in stored} == stored
    assert load_shards(out, split="test").ids == ["vidB$_$7"]
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert manifest[0]["transcript"] is None  # label.csv text used: Whisper only encodes


def test_extract_rejects_a_folder_without_labels(capsys, tmp_path):
    assert main(["extract", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no label.csv" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
