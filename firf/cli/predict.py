"""`python -m firf predict`: sentiment of a video / audio / text, or of every job in a JSONL file.

Exit codes: 0 success; 2 bad input or options (one line on stderr, no traceback); with
``--batch``, 1 when some jobs failed (their lines hold ``{"error": ...}``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from firf.distributed.options import add_ray_arguments, options_from
from firf.errors import InputError
from firf.jobs import JOB_KEYS
from firf.sanitize import printable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--video", help="video file; its sound is the audio unless --audio is given"
    )
    parser.add_argument("--audio", help="audio file (wav, mp3, m4a, ogg, webm...)")
    parser.add_argument("--text", help="text to analyse (default: the transcript of the speech)")
    parser.add_argument(
        "--drop",
        default="",
        help="modalities to switch off, comma-separated: text,audio,vision (or t,a,v)",
    )
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument(
        "--subsets", action="store_true", help="also score every subset of the given modalities"
    )
    parser.add_argument(
        "--transcript",
        action="store_true",
        help="transcribe the speech even when the score does not use it (text typed or dropped)",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="also score a long clip (up to a few minutes) per utterance, each modality alone",
    )
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument(
        "--weights",
        help="checkpoint folder or Hugging Face Hub repo id (default: $FIRF_WEIGHTS, else the "
        "bundled weights/)",
    )
    parser.add_argument(
        "--batch",
        metavar="FILE.jsonl",
        help='one job per line, e.g. {"video": "a.mp4", "drop": ["audio"]} (keys: '
        f"{', '.join(JOB_KEYS)}; relative paths are relative to the file; '-' reads stdin); "
        'prints one JSON record per line (blank lines: an error record), in order, with its "line" number; '
        '{"line": N, "error": ...} for a failed job; progress goes to stderr',
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="batch jobs with media run on this many threads; the cores are split between them "
        "(default: %(default)s)",
    )
    add_ray_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from firf.pipeline import Pipeline

    try:
        pipeline = Pipeline.from_pretrained(args.weights, device=args.device)
        if args.batch:
            if args.video or args.audio or args.text is not None:
                raise InputError(
                    "--batch takes its inputs from the file; drop --video/--audio/--text"
                )
            return _run_batch(args, pipeline)
        prediction = _predict(pipeline, args.video, args.audio, args.text, args.drop, args)
    except InputError as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    print(json.dumps(prediction.to_dict()) if args.json else summary(prediction.to_dict()))
    return 0


def _predict(pipeline: Any, video: Any, audio: Any, text: Any, drop: Any, args: argparse.Namespace):
    from firf.pipeline import predict

    return predict(
        video,
        audio,
        text,
        drop,
        subsets=args.subsets,
        transcript=args.transcript,
        timeline=args.timeline,
        pipeline=pipeline,
    )


def _run_batch(args: argparse.Namespace, pipeline: Any) -> int:
    """Every job of the batch file, models loaded once; a failed job does not stop the rest."""
    from firf.job_runner import RunOptions, run_jobs
    from firf.jobs import read_jobs

    if args.workers < 1:
        raise InputError(f"--workers must be at least 1; got {args.workers}")
    options = RunOptions(
        args.drop, args.subsets, args.workers, transcript=args.transcript, timeline=args.timeline
    )
    if args.ray is None:
        _, failed = run_jobs(pipeline, read_jobs(args.batch), options)
        return 1 if failed else 0
    from firf.distributed.batch import run_jobs_on_ray
    from firf.weights import resolve_weights

    if args.workers != 1:
        raise InputError("--workers is for one process; with --ray use --ray-actors")
    ray_options = options_from(args)
    weights = resolve_weights(args.weights)
    _, failed = run_jobs_on_ray(weights, args.device, read_jobs(args.batch), options, ray_options)
    return 1 if failed else 0


def summary(result: dict) -> str:
    """A few readable lines: label and score, what was used, transcript, coverage, warnings."""
    lines = [
        f"{result['label']} ({result['score']:+.2f} on a -3..+3 scale) "
        f"from {', '.join(result['used'])}"
    ]
    if result["transcript"]:
        lines.append(f"transcript: {result['transcript']}")
    coverage = result["coverage"]
    if "text" in coverage:
        source = f" ({result['text_source']})" if result["text_source"] else ""
        lines.append(f"text: {coverage['text']['tokens']} tokens{source}")
    if "audio" in coverage:
        lines.append(f"audio: {coverage['audio']['seconds']:.1f} s")
    if "vision" in coverage:
        vision = coverage["vision"]
        lines.append(f"vision: face in {vision['face_share']:.0%} of {vision['frames']} frames")
    for name, score in (result["subsets"] or {}).items():
        lines.append(f"subset {name}: {score:+.2f}")
    for point in result.get("timeline") or []:
        alone = ", ".join(
            f"{m} {'-' if s is None else f'{s:+.2f}'}" for m, s in point["modalities"].items()
        )
        lines.append(
            f"{point['start']:6.1f}-{point['end']:6.1f} s: {point['score']:+.2f} ({alone})"
        )
    lines.extend(f"warning: {warning}" for warning in result["warnings"])
    return "\n".join(lines)


def _one_line(error: Exception) -> str:
    return printable(str(error))
