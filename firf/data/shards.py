"""Feature cache on disk: one ``.npz`` per clip, a manifest of finished clips, and ``meta.json``.

Layout of a shard directory::

    meta.json        {"dims": {"text": .., "audio": .., "vision": ..}, "signature": {...}}
    manifest.jsonl   one line per finished clip: {"id", "label", "split", "file", ...metadata}
    <safe id>.npz    text, audio, vision arrays and optional text_mask / audio_mask / vision_mask

Extraction is slow (Whisper, MediaPipe), so writing is resumable: a clip's file is written to a
temporary name and renamed, and only then is its manifest line appended. A run that is killed
leaves at most a stray temporary file or an unterminated last manifest line, both ignored; the
next run skips every clip already in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from firf.data.dataset import FeatureDataset, check_sample
from firf.errors import InputError
from firf.modalities import MODALITIES

META = "meta.json"
MANIFEST = "manifest.jsonl"


def safe_name(clip_id: str) -> str:
    """A file name for ``clip_id``; a hash suffix keeps rewritten ids from colliding."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", clip_id)[:100]
    if safe != clip_id:
        safe += "-" + hashlib.sha1(clip_id.encode()).hexdigest()[:10]
    return safe


def _read_meta(directory: Path) -> dict:
    path = directory / META
    if not path.is_file():
        raise InputError(f"{directory} is not a feature shard directory (no {META})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON ({err})") from err


def _read_manifest(directory: Path) -> list[dict]:
    """Finished clips, in order; an unterminated last line (an interrupted write) is ignored."""
    path = directory / MANIFEST
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.split("\n")
    complete = lines[:-1]  # the last element is "" or an unterminated fragment
    entries = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise InputError(f"{path} line {number} is corrupt ({err})") from err
    return entries


class ShardWriter:
    """Adds clips to a shard directory, resuming what an earlier run finished."""

    def __init__(self, directory: str | Path, dims: dict[str, int], signature: dict) -> None:
        self.directory = Path(directory)
        self.dims = {m: int(dims[m]) for m in MODALITIES}
        self.signature = signature
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {"dims": self.dims, "signature": signature}
        if (self.directory / META).is_file():
            existing = _read_meta(self.directory)
            if existing != json.loads(json.dumps(meta)):
                raise InputError(
                    f"{self.directory} already holds features with dims {existing.get('dims')} "
                    f"from extractor {existing.get('signature')}; write to another directory "
                    "or delete it to start over"
                )
        else:
            write_atomic(self.directory / META, json.dumps(meta, indent=2).encode())
        self._drop_unterminated_line()
        self._done = {entry["id"] for entry in _read_manifest(self.directory)}

    def _drop_unterminated_line(self) -> None:
        path = self.directory / MANIFEST
        if path.is_file():
            text = path.read_text()
            if text and not text.endswith("\n"):
                write_atomic(path, text[: text.rfind("\n") + 1].encode())

    def has(self, clip_id: str) -> bool:
        return clip_id in self._done

    def __len__(self) -> int:
        return len(self._done)

    def add(
        self,
        clip_id: str,
        arrays: dict[str, np.ndarray],
        label: float,
        split: str,
        **meta: Any,
    ) -> Path:
        """Store one clip's features and record it as finished; returns the ``.npz`` path."""
        if self.has(clip_id):
            raise InputError(f"clip {clip_id!r} is already in {self.directory}")
        sample = check_sample({**arrays, "id": clip_id, "label": label}, self.dims, 0)
        keys = [*MODALITIES, *(f"{m}_mask" for m in MODALITIES if f"{m}_mask" in sample)]
        path = self.directory / f"{safe_name(clip_id)}.npz"
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            np.savez(f, **{k: sample[k] for k in keys})
        os.replace(tmp, path)
        entry = {"id": clip_id, "label": float(label), "split": split, "file": path.name, **meta}
        with (self.directory / MANIFEST).open("a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._done.add(clip_id)
        return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name, then rename: readers never see a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_shards(directory: str | Path, split: str | None = None) -> FeatureDataset:
    """The clips of a shard directory (optionally one split) as a ``FeatureDataset``."""
    directory = Path(directory)
    meta = _read_meta(directory)
    entries = _read_manifest(directory)
    if split is not None:
        splits = sorted({e.get("split") for e in entries})
        entries = [e for e in entries if e.get("split") == split]
        if not entries:
            raise InputError(f"{directory} has no clips in split {split!r} (splits: {splits})")
    if not entries:
        raise InputError(f"{directory} has no finished clips yet")
    samples = []
    for entry in entries:
        path = directory / entry["file"]
        try:
            with np.load(path) as npz:
                sample = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read features of clip {entry['id']!r} from {path}") from err
        sample.update(id=entry["id"], label=float(entry["label"]))
        samples.append(sample)
    return FeatureDataset(samples, meta["dims"], extractor=meta.get("signature"))
