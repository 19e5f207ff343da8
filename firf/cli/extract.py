"""`python -m firf extract`: features of a raw corpus in the MMSA-FET layout, as shards.

Layout read (as MMSA-FET expects it)::

    CORPUS/label.csv                       video_id, clip_id, text, label, mode
    CORPUS/Raw/<video_id>/<clip_id>.mp4

Every clip goes through the same extractors as ``firf.predict`` and is stored under the id
``<video_id>$_$<clip_id>`` (MMSA's convention) with its split (``mode``). The run is resumable:
clips already in the output are skipped, a clip that fails is logged, recorded in
``errors.jsonl`` and skipped, and a rerun retries only what is missing. ``--ray [ADDRESS]``
spreads the clips over a pool of Ray workers (``firf.distributed``) and writes the same shards.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from firf.distributed.options import add_ray_arguments, options_from
from firf.distributed.outcome import Outcome
from firf.errors import InputError
from firf.modalities import MODALITIES

COLUMNS = ("video_id", "clip_id", "text", "label", "mode")
SPLITS = ("train", "valid", "test")
ERRORS = "errors.jsonl"  # the failed clips of the last run, one {"id", "error"} a line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="corpus folder holding label.csv and Raw/")
    parser.add_argument("--out", required=True, help="shard folder to write (or resume)")
    parser.add_argument(
        "--transcript",
        action="store_true",
        help="use the Whisper transcript as the text instead of label.csv's text column",
    )
    parser.add_argument("--whisper", default="base", help="Whisper model (default: base)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    add_ray_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from firf.data.shards import ShardWriter
    from firf.extractors import Extractors

    try:
        root = Path(args.root)
        clips = read_labels(root)
        ray_options = None if args.ray is None else options_from(args)
        make_extractors = partial(
            Extractors,
            device=args.device,
            whisper=args.whisper,
            text_from_transcript=args.transcript,
            transcribe=args.transcript,
        )
        extractors = make_extractors()
        signature = extractors.signatures()
        dims = {m: signature[m]["dim"] for m in MODALITIES}
        writer = ShardWriter(args.out, dims, signature)
        pending = [clip for clip in clips if not writer.has(clip_key(clip))]
        work = partial(extract_clip, root=root, dims=dims, use_transcript=args.transcript)
        if args.ray is None:
            outcomes = ((clip, _attempt(work, extractors, clip)) for clip in pending)
        else:
            from firf.distributed.actors import map_on_actors

            del extractors  # the workers load their own
            outcomes = map_on_actors(pending, make_extractors, work, ray_options)
        failed = _store(outcomes, writer, len(pending))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    added = len(pending) - len(failed)
    print(
        f"{len(writer)} clips in {args.out}: {added} extracted now, "
        f"{len(clips) - len(pending)} already there, {len(failed)} failed"
        + (f" ({', '.join(failed)}; see {ERRORS}); rerun to retry" if failed else "")
    )
    return 1 if failed else 0


def clip_key(clip: dict[str, Any]) -> str:
    """MMSA's id of a clip: ``<video_id>$_$<clip_id>``."""
    return f"{clip['video_id']}$_${clip['clip_id']}"


def _attempt(work: Any, extractors: Any, clip: dict[str, Any]) -> Outcome:
    try:
        return Outcome(value=work(extractors, clip))
    except Exception as error:  # one bad clip must not end a long run; it is reported
        return Outcome(error=f"{type(error).__name__}: {error}")


def _store(outcomes: Iterator[tuple[dict, Any]], writer: Any, total: int) -> list[str]:
    """Add each finished clip to the shards as it arrives; the ids of the failed ones, whose
    reasons go to ``<out>/errors.jsonl`` (rewritten by every run: a rerun retries them)."""
    from tqdm import tqdm

    failed, errors = [], writer.directory / ERRORS
    errors.unlink(missing_ok=True)
    with closing(iter(outcomes)) as stream:  # an interrupted run stops the workers at once
        for clip, outcome in tqdm(stream, total=total, desc="extract", unit="clip"):
            clip_id = clip_key(clip)
            if outcome.error is None:
                arrays, meta = outcome.value
                writer.add(clip_id, arrays, clip["label"], clip["mode"], **meta)
                continue
            failed.append(clip_id)
            tqdm.write(f"skipped {clip_id}: {outcome.error}", file=sys.stderr)
            with errors.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"id": clip_id, "error": outcome.error}) + "\n")
    return failed


def read_labels(root: Path) -> list[dict[str, Any]]:
    """The rows of ``root/label.csv`` with ``label`` as float, checked for a usable layout."""
    path = root / "label.csv"
    if not path.is_file():
        raise InputError(f"{root} is not an MMSA-FET corpus: no label.csv")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        absent = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise InputError(f"{path} lacks the columns {', '.join(absent)}")
        rows = []
        for number, row in enumerate(reader, start=2):
            try:
                label = float(row["label"])
            except ValueError:
                raise InputError(
                    f"{path} line {number}: label {row['label']!r} is not a number"
                ) from None
            if row["mode"] not in SPLITS:
                raise InputError(
                    f"{path} line {number}: mode {row['mode']!r} is not one of {', '.join(SPLITS)}"
                )
            rows.append({**row, "label": label})
    return rows


def extract_clip(
    extractors: Any, clip: dict[str, Any], *, root: Path, dims: dict[str, int], use_transcript: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Shard arrays of one clip (``(0, d)`` for a missing modality) and manifest metadata."""
    video = root / "Raw" / clip["video_id"] / f"{clip['clip_id']}.mp4"
    text = None if use_transcript else clip["text"]
    features = extractors.features(video=video, text=text)
    arrays = {m: features.arrays.get(m, np.zeros((0, dims[m]), np.float32)) for m in MODALITIES}
    arrays.update({f"{m}_mask": mask for m, mask in features.masks.items()})
    meta = {"transcript": features.transcript, "warnings": features.warnings}
    return arrays, meta
