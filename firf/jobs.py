"""Reading a JSONL batch of prediction jobs: line by line, byte-tolerant, bounded.

A batch file comes from anywhere, so nothing in it may end the run or exhaust memory: each line
is read on its own (at most ``max_line_bytes`` of it is kept), undecodable bytes are replaced,
nesting is checked before the JSON parser recurses, and reading stops after ``max_total_bytes``
(``/dev/zero`` is a valid path). A bad line becomes a ``Job`` carrying its error and line number,
so the output keeps one record per job, in order.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from firf.errors import InputError

JOB_KEYS = ("video", "audio", "text", "drop")
_CHUNK = 1 << 16  # bytes read at a time while skipping the rest of an overlong line


@dataclass(frozen=True)
class JobLimits:
    """Bounds on what one batch may make the reader hold or do."""

    max_line_bytes: int = 1 << 20  # a job is a few paths and a sentence; 1 MiB is plenty
    max_depth: int = 8  # a job is an object holding at most a list
    max_total_bytes: int = 1 << 28  # 256 MiB, about a million jobs; reading stops here


@dataclass
class Job:
    """One line of the batch: its fields, or why it cannot be run."""

    line: int
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def read_jobs(source: str, limits: JobLimits = JobLimits()) -> Iterator[Job]:
    """The jobs of a JSONL file (``"-"``: stdin); relative media paths are taken from its folder.

    An unreadable file is an ``InputError`` before the first job; problems after that become
    error jobs.
    """
    if source == "-":
        yield from parse_jobs(sys.stdin.buffer, Path.cwd(), limits)
        return
    path = Path(source)
    try:
        stream = path.open("rb")
    except OSError as error:
        raise InputError(
            f"cannot read the batch file {source}: {error.strerror or error}"
        ) from None
    with stream:
        yield from parse_jobs(stream, path.resolve().parent, limits)


def parse_jobs(stream: BinaryIO, base: Path, limits: JobLimits = JobLimits()) -> Iterator[Job]:
    """Jobs from a binary stream, one per line: a blank line is an error record too, so the
    output has exactly one record per input line and the two can be matched by position."""
    total, number = 0, 0
    while True:
        try:
            raw = stream.readline(limits.max_line_bytes + 1)
        except OSError as error:
            yield Job(number + 1, error=f"line {number + 1}: reading stopped ({error})")
            return
        if not raw:
            return
        number += 1
        total += len(raw)
        if len(raw) > limits.max_line_bytes and not raw.endswith(b"\n"):
            skipped, ended = _skip_line(stream, limits.max_total_bytes - total)
            total += skipped
            why = f"line {number} is longer than {limits.max_line_bytes:,} bytes; skipped"
            if not ended:
                yield Job(number, error=f"{why}; reading stopped: {_too_big(limits)}")
                return
            yield Job(number, error=why)
        elif raw.strip():
            yield _parse_line(raw, number, base, limits)
        else:
            yield Job(number, error=f"line {number} is blank: no job to run")
        if total > limits.max_total_bytes:
            yield Job(number + 1, error=f"reading stopped after line {number}: {_too_big(limits)}")
            return


def _parse_line(raw: bytes, number: int, base: Path, limits: JobLimits) -> Job:
    text = raw.decode("utf-8", errors="replace")
    warnings = []
    if "\ufffd" in text and "\ufffd".encode() not in raw:
        warnings.append(f"line {number} was not valid UTF-8; undecodable bytes were replaced")
    depth = _nesting(raw)
    if depth > limits.max_depth:
        return Job(number, error=f"line {number} nests {depth} levels deep; a job is a flat object")
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        return Job(number, error=f"line {number} is not valid JSON ({error.msg})")
    if not isinstance(fields, dict) or set(fields) - set(JOB_KEYS):
        return Job(
            number,
            error=f"line {number} must be a JSON object with keys among {', '.join(JOB_KEYS)}",
        )
    for key in ("video", "audio"):
        if isinstance(fields.get(key), str):
            fields[key] = str(base / Path(fields[key]).expanduser())
    return Job(number, fields, warnings=warnings)


def _nesting(raw: bytes) -> int:
    """Deepest bracket nesting outside JSON strings (a vectorised scan, cheap for 1 MiB)."""
    # Escapes are pairs read left to right: drop escaped backslashes, then escaped quotes, and
    # every quote left opens or closes a string.
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = np.frombuffer(unescaped, dtype=np.uint8)
    inside = np.cumsum(data == ord('"')) % 2 == 1
    opens = ((data == ord("[")) | (data == ord("{"))) & ~inside
    closes = ((data == ord("]")) | (data == ord("}"))) & ~inside
    depth = np.cumsum(opens.astype(np.int64) - closes.astype(np.int64))
    return int(depth.max(initial=0))


def _skip_line(stream: BinaryIO, allowance: int) -> tuple[int, bool]:
    """Read past the rest of a line; (bytes read, whether its end came within `allowance`)."""
    skipped = 0
    while skipped <= allowance:
        chunk = stream.readline(_CHUNK)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped, True
    return skipped, False


def _too_big(limits: JobLimits) -> str:
    return f"the batch is larger than {limits.max_total_bytes:,} bytes"
