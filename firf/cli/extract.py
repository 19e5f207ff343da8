"""`python -m firf extract`: features of a raw corpus in the MMSA-FET layout, as shards.

Layout read (as MMSA-FET expects it)::

    CORPUS/label.csv                       video_id, clip_id, text, label, mode
    CORPUS/Raw/<video_id>/<clip_id>.mp4

Every clip goes through the same extractors as ``firf.predict`` and is stored under the id
``<video_id>$_$<clip_id>`` (MMSA's convention) with its split (``mode``). The run is resumable:
clips already in the output are skipped, a clip that fails is logged and skipped, and a rerun
retries only what is missing.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np

from firf.errors import InputError
from firf.modalities import MODALITIES

COLUMNS = ("video_id", "clip_id", "text", "label", "mode")
SPLITS = ("train", "valid", "test")


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


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from firf.data.shards import ShardWriter
    from firf.extractors import Extractors

    try:
        root = Path(args.root)
        clips = read_labels(root)
        extractors = Extractors(
            device=args.device,
            whisper=args.whisper,
            text_from_transcript=args.transcript,
            transcribe=args.transcript,
        )
        signature = extractors.signatures()
        dims = {m: signature[m]["dim"] for m in MODALITIES}
        writer = ShardWriter(args.out, dims, signature)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    done_before, failed = 0, []
    for clip in tqdm(clips, desc="extract", unit="clip"):
        clip_id = f"{clip['video_id']}$_${clip['clip_id']}"
        if writer.has(clip_id):
            done_before += 1
            continue
        try:
            arrays, meta = clip_features(extractors, root, clip, dims, args.transcript)
            writer.add(clip_id, arrays, clip["label"], clip["mode"], **meta)
        except Exception as error:  # one bad clip must not end a long run; it is reported
            failed.append(clip_id)
            tqdm.write(f"skipped {clip_id}: {type(error).__name__}: {error}", file=sys.stderr)

    added = len(clips) - done_before - len(failed)
    print(
        f"{len(writer)} clips in {args.out}: {added} extracted now, {done_before} already there, "
        f"{len(failed)} failed" + (f" ({', '.join(failed)}); rerun to retry" if failed else "")
    )
    return 1 if failed else 0


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


def clip_features(
    extractors: Any, root: Path, clip: dict[str, Any], dims: dict[str, int], use_transcript: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Shard arrays of one clip (``(0, d)`` for a missing modality) and manifest metadata."""
    video = root / "Raw" / clip["video_id"] / f"{clip['clip_id']}.mp4"
    text = None if use_transcript else clip["text"]
    features = extractors.features(video=video, text=text)
    arrays = {m: features.arrays.get(m, np.zeros((0, dims[m]), np.float32)) for m in MODALITIES}
    arrays.update({f"{m}_mask": mask for m, mask in features.masks.items()})
    meta = {"transcript": features.transcript, "warnings": features.warnings}
    return arrays, meta
