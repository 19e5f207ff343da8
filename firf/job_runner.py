"""Running a batch of prediction jobs: text-only jobs in padded batches, media jobs on workers.

Why: a short text costs the models milliseconds, so one job at a time spends its time in call
overhead; consecutive text-only jobs share one MiniLM pass and one model pass instead. Media
jobs run on ``workers`` threads with the cores split between them (``thread_budget``), so the
process never asks for more threads than the machine has. Results are written in input order
as soon as each one and all before it are done, so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from time import perf_counter
from typing import Any, TextIO

import torch

from firf.errors import InputError
from firf.jobs import Job
from firf.sanitize import clean_text, printable

TEXT_BATCH = 32  # text-only jobs per forward pass


@dataclass(frozen=True)
class RunOptions:
    drop: str | Iterable[str] = ()  # default for jobs without their own "drop"
    subsets: bool = False
    workers: int = 1
    transcript: bool = False  # ask for the transcript even when the score does not use it
    timeline: bool = False  # score long clips per utterance too
    progress_every: float = 2.0  # seconds between progress lines on stderr; 0: none


def thread_budget(workers: int) -> int:
    """Torch threads per worker so that workers x threads fits the cores this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, workers))


def run_jobs(
    pipeline: Any, jobs: Iterable[Job], options: RunOptions, out: TextIO | None = None
) -> tuple[int, int]:
    """Write one JSON record per job to `out` (default: stdout), in order; (done, failed)."""
    out = out or sys.stdout
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(thread_budget(options.workers))
    progress = Progress(options.progress_every)
    pending: deque[tuple[list[Job], Future]] = deque()
    lock = threading.Lock()

    def flush_done() -> None:
        """Write every finished group at the head of the queue (from any thread, in order)."""
        with lock:
            while pending and pending[0][1].done():
                _write(*pending.popleft(), out, progress)

    try:
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            for group in groups(jobs, options):
                future = pool.submit(run_group, pipeline, group, options)
                with lock:
                    pending.append((group, future))
                future.add_done_callback(lambda _: flush_done())
                while True:  # read no further ahead than the workers can take
                    with lock:
                        head = pending[0][1] if len(pending) > options.workers else None
                    if head is None:
                        break
                    wait([head])
                    flush_done()
        flush_done()
    finally:
        torch.set_num_threads(previous_threads)
    progress.finish()
    return progress.done, progress.failed


def groups(jobs: Iterable[Job], options: RunOptions) -> Iterator[list[Job]]:
    """Runs of consecutive text-only jobs, every other job on its own.

    A run takes the text-only jobs already read (up to TEXT_BATCH) and never waits for more:
    from a file that is a full batch, from a pipe that trickles it is each job as it comes.
    """
    lines = _Prefetch(jobs, TEXT_BATCH)
    texts: list[Job] = []
    while True:
        job = lines.next(wait=not texts)
        if texts and (job is None or job is _END or not _text_only(job, options)):
            yield texts
            texts = []
        if job is None:
            continue
        if job is _END:
            return
        if _text_only(job, options):
            texts.append(job)
            if len(texts) == TEXT_BATCH:
                yield texts
                texts = []
        else:
            yield [job]


_END = Job(line=-1)  # the reader is done


class _Prefetch:
    """Jobs read on a thread, so a run can take what has arrived without waiting for more."""

    def __init__(self, jobs: Iterable[Job], depth: int):
        self._queue: queue.Queue[Job | BaseException] = queue.Queue(maxsize=depth)
        threading.Thread(target=self._read, args=(jobs,), daemon=True).start()

    def _read(self, jobs: Iterable[Job]) -> None:
        try:
            for job in jobs:
                self._queue.put(job)
        except BaseException as error:  # e.g. an unreadable file: raised where jobs are taken
            self._queue.put(error)
            return
        self._queue.put(_END)

    def next(self, wait: bool) -> Job | None:
        """The next job (``_END`` at the end); None when ``wait`` is False and none is ready."""
        try:
            item = self._queue.get(block=wait)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item


def _text_only(job: Job, options: RunOptions) -> bool:
    fields = job.fields
    return (
        job.error is None
        and not options.subsets
        and set(fields) == {"text"}
        and isinstance(fields["text"], str)
        and bool(fields["text"].strip())
    )


def run_group(pipeline: Any, group: list[Job], options: RunOptions) -> list[dict]:
    if len(group) > 1 or _text_only(group[0], options):
        try:
            return _run_texts(pipeline, group, options)
        except InputError:  # e.g. text switched off by --drop: each job says why on its own
            pass
    return [_run_one(pipeline, job, options) for job in group]


def _run_texts(pipeline: Any, group: list[Job], options: RunOptions) -> list[dict]:
    """Text-only jobs: one MiniLM pass and one model pass for the whole group."""
    from firf.extractors import plain
    from firf.features import Features

    cleaned = [clean_text(job.fields["text"]) for job in group]
    if any(not words.strip() for words, _ in cleaned):
        raise InputError("a text is empty after cleaning")
    started = perf_counter()
    states = pipeline.extractors.text.encode_many([words.strip() for words, _ in cleaned])
    share = (perf_counter() - started) / len(group)
    signature = plain(pipeline.extractors.text.signature)
    many = [
        Features(
            arrays={"text": array},
            signature={"text": signature},
            text_source="typed",
            coverage={"text": {"tokens": len(array)}},
            timings={"text": share},
            warnings=job.warnings + warnings,
        )
        for job, array, (_, warnings) in zip(group, states, cleaned, strict=True)
    ]
    predictions = pipeline.run_many(many, drop=options.drop)
    return [{"line": job.line, **p.to_dict()} for job, p in zip(group, predictions, strict=True)]


def _run_one(pipeline: Any, job: Job, options: RunOptions) -> dict:
    from firf.pipeline import predict

    try:
        if job.error is not None:
            raise InputError(job.error)
        fields = job.fields
        prediction = predict(
            fields.get("video"),
            fields.get("audio"),
            fields.get("text"),
            fields.get("drop", options.drop),
            subsets=options.subsets,
            transcript=options.transcript,
            timeline=options.timeline,
            pipeline=pipeline,
        )
        prediction.warnings[:0] = job.warnings
        return {"line": job.line, **prediction.to_dict()}
    except InputError as error:
        return {"line": job.line, "error": printable(str(error))}
    except Exception as error:  # an unforeseen failure of one job must not end the batch
        return {"line": job.line, "error": f"{type(error).__name__}: {printable(str(error))}"}


def _write(group: list[Job], future: Future, out: TextIO, progress: Progress) -> None:
    try:
        records, why = future.result(), None
    except Exception as error:  # a failure of the group itself: every job in it reports it
        records, why = [], f"{type(error).__name__}: {printable(str(error))}"
    write_records(group, records, why, out, progress)


def write_records(
    group: list[Job], records: list[dict], failure: str | None, out: TextIO, progress: Progress
) -> None:
    """The group's records as JSON lines, or one ``failure`` record per job when it failed."""
    if failure is not None:
        records = [{"line": job.line, "error": failure} for job in group]
    for record in records:
        out.write(json.dumps(record) + "\n")
        progress.count("error" in record)
    out.flush()


class Progress:
    """'N jobs done (F failed), R jobs/s' on stderr every few seconds and at the end."""

    def __init__(self, every: float, report: Callable[[str], None] | None = None):
        self.every, self.done, self.failed = every, 0, 0
        self.started = self.last = perf_counter()
        self.report = report or (lambda line: print(line, file=sys.stderr, flush=True))

    def count(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if self.every and perf_counter() - self.last >= self.every:
            self.last = perf_counter()
            self.report(self.line())

    def finish(self) -> None:
        if self.every:
            self.report(self.line())

    def line(self) -> str:
        rate = self.done / max(perf_counter() - self.started, 1e-9)
        return f"batch: {self.done} jobs done ({self.failed} failed), {rate:.1f} jobs/s"
