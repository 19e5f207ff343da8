"""End-to-end latency of one prediction on a 10-second clip with a face and speech.

In one process, after a warm-up call of each step, it times (median of ``--runs``): decoding the
clip, Whisper alone (real-length encoder + greedy transcript), the Face Mesh and MiniLM
extractors, FIRF alone on ready features, and the whole ``firf.predict`` with the extractors run
one after the other and in two threads (each decoding its own input, so Face Mesh and the video
decoding overlap Whisper), and a speech-only prediction with the text switched off (no
transcript asked for: Whisper's encoder alone). The predict / Whisper ratio is taken per round
of ``--rounds`` interleaved rounds (Whisper, predict in sequence, predict in threads, in rotating
order), so a change of load on a shared machine hits both sides. It also compares Whisper's
encoder on a 5-second clip with a 30-second one (openai-whisper pads every clip to 30 s, so that is its cost for any short
clip), and measures the peak resident memory of a fresh process that has run ``predict`` once.

Without ``--weights`` it uses the bundled checkpoint, or, when there is none yet, a randomly
initialised FIRF of the default size (as fast as a trained one). The media are generated
offline (``benchmarks/talking_clip.py``): espeak-ng speech and scikit-image's astronaut photo.

    python benchmarks/latency.py                   # CPU
    python benchmarks/latency.py --device cuda
    python benchmarks/latency.py --threads 1 --write   # append the table to BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `import firf` does, before torch

import numpy as np  # noqa: E402
import torch  # noqa: E402
from record import append_section, machine  # noqa: E402
from talking_clip import talking_clip  # noqa: E402

from firf.extract.decode import SAMPLE_RATE, load_audio, load_video  # noqa: E402
from firf.extractors import Extractors  # noqa: E402
from firf.pipeline import Pipeline, predict  # noqa: E402
from firf.weights import BUNDLED_WEIGHTS, is_checkpoint  # noqa: E402

CLIP_SECONDS = 10.0
SPEECH = (
    "I really loved this film. The story was wonderful, the acting was great, and the music "
    "made me smile from the very first scene to the last one."
)
GOALS = {"predict_over_whisper": 1.3, "encoder_5s_over_30s": 0.35, "peak_rss_gb": 2.5}
# Run in a fresh interpreter: the peak memory of a process that has predicted once.
RSS_SCRIPT = """
import resource, sys
import torch
if sys.argv[4] != "0":
    torch.set_num_threads(int(sys.argv[4]))
import firf
from firf.pipeline import Pipeline
firf.predict(video=sys.argv[1], pipeline=Pipeline.from_pretrained(sys.argv[2], device=sys.argv[3]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def random_checkpoint(folder: Path, device: str) -> Path:
    """A default-size FIRF with this machine's extractor signatures, randomly initialised."""
    from firf.model import FIRF, FIRFConfig

    signatures = Extractors(device=device).signatures()
    config = FIRFConfig(
        text_dim=signatures["text"]["dim"],
        audio_dim=signatures["audio"]["dim"],
        vision_dim=signatures["vision"]["dim"],
        extractor=signatures,
    )
    torch.manual_seed(0)
    FIRF(config).save_pretrained(folder)
    return folder


def timed(step: Callable[[], object], runs: int, device: torch.device) -> float:
    """Median seconds of `runs` calls after one warm-up call."""
    step()
    seconds = []
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def interleaved_ratios(
    steps: dict[str, Callable[[], object]], baseline: str, rounds: int, device: torch.device
) -> dict[str, tuple[float, float, float]]:
    """Per step: (median, min, max) over `rounds` of its seconds / the baseline's seconds.

    On a shared machine the load changes between one step's runs and the next's; timing every
    step once per round, in a rotating order, and dividing within the round keeps a ratio from
    comparing a busy minute with a quiet one.
    """
    names = list(steps)
    ratios: dict[str, list[float]] = {name: [] for name in names if name != baseline}
    for step in steps.values():
        step()
    for round_index in range(rounds):
        shift = round_index % len(names)
        seconds = {}
        for name in names[shift:] + names[:shift]:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            started = time.perf_counter()
            steps[name]()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds[name] = time.perf_counter() - started
        for name in ratios:
            ratios[name].append(seconds[name] / seconds[baseline])
    return {n: (statistics.median(r), min(r), max(r)) for n, r in ratios.items()}


def peak_rss_gb(clip: Path, weights: Path, device: str, threads: int) -> float:
    command = [sys.executable, "-c", RSS_SCRIPT, str(clip), str(weights), device, str(threads)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return int(done.stdout.split()[-1]) / 1024**2  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (MediaPipe runs on CPU)")
    parser.add_argument("--weights", help="FIRF checkpoint folder (default: bundled, or random)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per step")
    parser.add_argument(
        "--rounds", type=int, default=7, help="interleaved rounds for the predict / Whisper ratio"
    )
    parser.add_argument("--write", action="store_true", help="append to benchmarks/BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip, _ = talking_clip(folder, SPEECH, CLIP_SECONDS)
        if args.weights:
            weights, which = Path(args.weights), f"checkpoint {args.weights}"
        elif is_checkpoint(BUNDLED_WEIGHTS):
            weights, which = BUNDLED_WEIGHTS, "the bundled checkpoint"
        else:
            weights = random_checkpoint(folder / "random", args.device)
            which = "a randomly initialised default-size FIRF (no bundled checkpoint yet)"
        sequential = Pipeline.from_pretrained(weights, device=device, concurrent=False).load()
        concurrent = Pipeline.from_pretrained(weights, device=device, concurrent=True).load()
        extractors = sequential.extractors

        decoded = load_video(clip, fps=extractors.fps)
        wave = decoded.audio
        heard = extractors.audio(wave)
        features = sequential.features(video=clip)
        speech = load_audio(folder / "speech.wav")
        five = np.resize(speech, 5 * SAMPLE_RATE)
        thirty = np.resize(speech, 30 * SAMPLE_RATE)

        runs = args.runs
        seconds = {
            "decode video + audio (PyAV)": timed(
                lambda: load_video(clip, fps=extractors.fps), runs, device
            ),
            "Whisper: encoder + transcript": timed(lambda: extractors.audio(wave), runs, device),
            "Whisper: encoder only": timed(
                lambda: extractors.audio.encode_only(wave), runs, device
            ),
            "Face Mesh vision": timed(lambda: extractors.vision(decoded.frames), runs, device),
            "MiniLM text (transcript)": timed(
                lambda: extractors.text(heard.transcript), runs, device
            ),
            "FIRF alone (ready features)": timed(lambda: sequential.run(features), runs, device),
            "firf.predict, extractors in sequence": timed(
                lambda: sequential.run(sequential.features(video=clip)), runs, device
            ),
            "firf.predict, extractors in 2 threads": timed(
                lambda: concurrent.run(concurrent.features(video=clip)), runs, device
            ),
            "firf.predict, speech only, text off (no transcript)": timed(
                lambda: predict(audio=wave, drop="text,vision", pipeline=concurrent), runs, device
            ),
            "Whisper encoder, 5 s clip": timed(
                lambda: extractors.audio.encode_only(five), runs, device
            ),
            "Whisper encoder, 30 s clip": timed(
                lambda: extractors.audio.encode_only(thirty), runs, device
            ),
        }
        paired = interleaved_ratios(
            {
                "Whisper": lambda: extractors.audio(wave),
                "in sequence": lambda: sequential.run(sequential.features(video=clip)),
                "in 2 threads": lambda: concurrent.run(concurrent.features(video=clip)),
            },
            "Whisper",
            args.rounds,
            device,
        )
        rss = peak_rss_gb(clip, Path(weights), args.device, args.threads)

    ratios = {
        "predict_over_whisper": min(median for median, _, _ in paired.values()),
        "encoder_5s_over_30s": seconds["Whisper encoder, 5 s clip"]
        / seconds["Whisper encoder, 30 s clip"],
        "peak_rss_gb": rss,
    }
    rows = ["| step (10 s clip unless noted) | median s |", "|---|---:|"]
    rows += [f"| {name} | {value:.3f} |" for name, value in seconds.items()]
    rows += ["", "| check | measured | goal |", "|---|---:|---:|"]
    labels = {
        "predict_over_whisper": "predict / Whisper pass (interleaved, best of sequence, threads)",
        "encoder_5s_over_30s": "encoder 5 s / encoder 30 s",
        "peak_rss_gb": "peak RSS after one predict (GB)",
    }
    for key, value in ratios.items():
        verdict = "met" if value <= GOALS[key] else "MISSED"
        rows.append(f"| {labels[key]} | {value:.2f} | <= {GOALS[key]} ({verdict}) |")
    rows += [
        "",
        "| predict / Whisper pass, per round | median | min | max |",
        "|---|---:|---:|---:|",
    ]
    rows += [
        f"| extractors {name} | {median:.2f} | {low:.2f} | {high:.2f} |"
        for name, (median, low, high) in paired.items()
    ]
    table = "\n".join(rows)
    threads_pay = paired["in 2 threads"][0] < paired["in sequence"][0]
    notes = (
        f"Transcript: {heard.transcript!r}  \nModel: {which}.  \n"
        f"Running the extractors in two threads {'pays' if threads_pay else 'does not pay'} here."
    )
    print(table)
    print()
    print(notes)

    if args.write:
        command = "python benchmarks/latency.py " + shlex.join(argv or sys.argv[1:])
        date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section = (
            f"\n## Latency of one prediction ({date})\n\n`{command}`  \n"
            f"Machine: {machine(device)}, {runs} timed runs per step after a warm-up.  \n"
            f"{notes}\n\n{table}\n"
        )
        append_section(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
