"""Scale-out on Ray (``firf.distributed``): the same results as the single-process paths.

The Ray tests start one local instance (2 CPUs, no dashboard, a small object store) for the
module and run the real extractors on genuine media; they are skipped when Ray (the optional
``distributed`` extra) is not installed. The import rule is checked without Ray.
"""

from __future__ import annotations

import ast
import csv
import json
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from firf.cli import main
from firf.data.shards import ShardWriter
from tools import media

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    "I really loved this movie, it was wonderful.",
    "This was the worst film I have ever seen.",
    "The plot was fine but the acting was dull.",
    "What a great and happy surprise.",
    "I am not sure what to think about it.",
]
N_CLIPS = 20


def test_nothing_outside_the_distributed_package_imports_ray():
    offenders = []
    for path in [*ROOT.glob("firf/**/*.py"), *ROOT.glob("app/**/*.py"), ROOT / "app.py"]:
        if "distributed" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name == "ray" or name.startswith("ray.") for name in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_ray_flag_without_ray_is_one_line_saying_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    (tmp_path / "label.csv").write_text("video_id,clip_id,text,label,mode\n")
    code = main(["extract", "--root", str(tmp_path), "--out", str(tmp_path / "out"), "--ray"])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("error: --ray needs Ray") and error.count("\n") == 1
    assert "pip install -e '.[distributed]'" in error


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module: 2 CPUs, no dashboard, an 80 MB object store."""
    pytest.importorskip("ray")
    from firf.distributed.cluster import connect
    from firf.distributed.options import RayOptions

    ray = connect(RayOptions(local_cpus=2, object_store_bytes=80 * 2**20))
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """An MMSA-FET corpus of N_CLIPS real clips (espeak speech over the astronaut's moving
    face, some without a face) and one corrupt file, in the train/valid/test splits."""
    root = tmp_path_factory.mktemp("corpus")
    speech = [media.speech_wav(root / f"s{i}.wav", s) for i, s in enumerate(SENTENCES)]
    rows = []
    for i in range(N_CLIPS):
        folder = root / "Raw" / f"video{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        make = media.blank_clip if i % 5 == 4 else media.face_clip
        make(folder / f"{i}.mp4", seconds=1.0, audio_wav=speech[i % len(speech)], size=160)
        split = ("train", "valid", "test")[i % 3]
        rows.append((f"video{i % 4}", str(i), SENTENCES[i % 5], (i % 7) - 3.0, split))
    media.corrupt_file(root / "Raw" / "video0" / "broken.mp4")
    rows.insert(7, ("video0", "broken", "a damaged upload", 0.0, "test"))
    with (root / "label.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video_id", "clip_id", "text", "label", "mode"])
        writer.writerows(rows)
    return root


@pytest.fixture(scope="module")
def single_process(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "shards"
    assert main(["extract", "--root", str(corpus), "--out", str(out)]) == 1  # one clip failed
    return out


class _Interrupt(Exception):
    """Stands in for Ctrl-C in the driver (a KeyboardInterrupt would stop pytest itself)."""


@pytest.fixture(scope="module")
def interrupted_then_resumed(ray_local, corpus, tmp_path_factory):
    """A Ray extraction stopped after 6 stored clips, then rerun to the end; the stat of every
    file the first run stored, and the second run's summary line."""
    out = tmp_path_factory.mktemp("ray") / "shards"
    args = ["extract", "--root", str(corpus), "--out", str(out), "--ray", "--ray-actors", "2"]
    original, stored = ShardWriter.add, []

    def add_then_stop(self, clip_id, *rest, **meta):
        path = original(self, clip_id, *rest, **meta)
        stored.append(path)
        if len(stored) == 6:
            raise _Interrupt
        return path

    ShardWriter.add = add_then_stop
    try:
        with pytest.raises(_Interrupt):
            main(args)
    finally:
        ShardWriter.add = original
    first = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in stored}
    return out, first, main(args)


def shards(directory: Path) -> tuple[list[dict], dict[str, dict[str, np.ndarray]]]:
    manifest = [
        json.loads(line) for line in (directory / "manifest.jsonl").read_text().splitlines()
    ]
    arrays = {}
    for entry in manifest:
        with np.load(directory / entry["file"]) as npz:
            arrays[entry["id"]] = {key: npz[key] for key in npz.files}
    return manifest, arrays


@pytest.mark.slow
def test_ray_extraction_gives_the_single_process_shards(interrupted_then_resumed, single_process):
    out, _, _ = interrupted_then_resumed
    ray_manifest, ray_arrays = shards(out)
    one_manifest, one_arrays = shards(single_process)
    assert len(one_manifest) == N_CLIPS
    assert [e["id"] for e in ray_manifest] == [e["id"] for e in one_manifest]
    assert ray_manifest == one_manifest  # labels, splits, transcripts, warnings, file names
    assert json.loads((out / "meta.json").read_text()) == json.loads(
        (single_process / "meta.json").read_text()
    )
    for clip_id, expected in one_arrays.items():
        got = ray_arrays[clip_id]
        assert sorted(got) == sorted(expected), clip_id
        for key, value in expected.items():
            assert got[key].shape == value.shape, (clip_id, key)
            np.testing.assert_allclose(got[key], value, atol=1e-4, err_msg=f"{clip_id} {key}")
    faces = [clip_id for clip_id, a in one_arrays.items() if len(a["vision"])]
    assert 0 < len(faces) < N_CLIPS  # both face and no-face clips were really extracted


@pytest.mark.slow
def test_an_interrupted_ray_extraction_resumes_without_redoing_clips(interrupted_then_resumed):
    out, first, code = interrupted_then_resumed
    assert code == 1  # the corrupt clip still fails
    assert len(first) == 6
    for name, (inode, mtime) in first.items():
        stat = (out / name).stat()
        assert (stat.st_ino, stat.st_mtime_ns) == (inode, mtime), f"{name} was extracted again"
    ids = [json.loads(line)["id"] for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == N_CLIPS


@pytest.mark.slow
def test_a_corrupt_clip_becomes_an_error_record(interrupted_then_resumed, single_process):
    out, _, _ = interrupted_then_resumed
    for directory in (out, single_process):
        lines = (directory / "errors.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert [r["id"] for r in records] == ["video0$_$broken"]
        assert records[0]["error"]


@pytest.mark.slow
def test_replicates_run_as_tasks_and_finished_ones_are_not_redone(ray_local, tmp_path):
    from firf.distributed.options import RayOptions
    from firf.distributed.replicates import run_replicates

    cache, marks = tmp_path / "cache", tmp_path / "marks"
    marks.mkdir()
    jobs = {f"r{i}": partial(Path.write_text, marks / f"r{i}", "x" * i) for i in range(3)}
    jobs["needs-input"] = partial(Path.read_text, tmp_path / "input.txt")
    first = run_replicates(jobs, cache, RayOptions())
    assert [(k, o.value) for k, o in first.items()][:3] == [("r0", 0), ("r1", 1), ("r2", 2)]
    assert first["needs-input"].value is None
    assert first["needs-input"].error.startswith("FileNotFoundError")
    stamps = {p.name: p.stat().st_mtime_ns for p in marks.iterdir()}

    (tmp_path / "input.txt").write_text("now here")
    jobs["r3"] = partial(Path.write_text, marks / "r3", "xxx")
    second = run_replicates(jobs, cache, RayOptions())
    assert {k: o.value for k, o in second.items()} == {
        "r0": 0,
        "r1": 1,
        "r2": 2,
        "needs-input": "now here",
        "r3": 3,
    }
    assert all(o.error is None for o in second.values())
    for name, stamp in stamps.items():  # the finished replicates were not run again
        assert (marks / name).stat().st_mtime_ns == stamp


def same_records(expected: object, got: object) -> bool:
    """Equal JSON values, numbers to 1e-5 (the workers run with other thread counts)."""
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and expected.keys() == got.keys()
            and all(same_records(expected[k], got[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(expected) == len(got)
            and all(same_records(a, b) for a, b in zip(expected, got, strict=True))
        )
    if isinstance(expected, float):
        return isinstance(got, int | float) and abs(expected - got) <= 1e-5
    return expected == got


@pytest.mark.slow
def test_ray_batch_prediction_prints_the_single_process_lines(ray_local, corpus, tmp_path, capsys):
    lines = [json.dumps({"video": str(path)}) for path in sorted(corpus.glob("Raw/*/*.mp4"))]
    lines[3:3] = ['{"text": "a calm and pleasant evening"}', "{not json", '{"text": ""}']
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(lines) + "\n")
    outputs = []
    for flags in ([], ["--ray", "--ray-actors", "2"]):
        assert main(["predict", "--batch", str(jobs), *flags]) == 1  # some jobs failed
        outputs.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    single, on_ray = outputs
    assert [r["line"] for r in single] == list(range(1, len(lines) + 1))
    errors = [r["line"] for r in single if "error" in r]
    assert len(errors) == 3  # the bad line, the empty text and the corrupt video
    assert sum(bool(r.get("used")) for r in single) == len(lines) - 3
    assert [r["line"] for r in on_ray] == [r["line"] for r in single]
    for expected, got in zip(single, on_ray, strict=True):  # timings are measured, not results
        expected.pop("timings", None), got.pop("timings", None)
        assert same_records(expected, got), (expected, got)


@pytest.mark.slow
def test_ray_bench_gives_the_single_process_result_and_resumes(ray_local, tmp_path):
    args = ["bench", "robustness", "--track", "control", "--tiny", "--replicates", "2"]
    cache = tmp_path / "cache"
    on_ray = [*args, "--ray", "--ray-cache", str(cache)]

    def result(extra: list[str], name: str) -> dict:
        out = tmp_path / f"{name}.json"
        assert main([*extra, "--out", str(out)]) == 0
        raw = json.loads(out.read_text())
        return {k: raw[k] for k in ("models", "paired", "probes", "ceilings", "replicates")}

    single = result(args, "single")
    assert result(on_ray, "ray") == single
    first = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(first) == 2
    redo = sorted(first)[1]
    (cache / redo).unlink()  # as if the run had stopped before this replicate finished
    assert result(on_ray, "resumed") == single
    again = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert again.keys() == first.keys()
    assert {k: v for k, v in again.items() if k != redo} == {
        k: v for k, v in first.items() if k != redo
    }  # the finished replicate was read back, not run again
