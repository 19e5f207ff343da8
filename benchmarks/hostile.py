"""Peak memory and time of `python -m firf predict` on hostile media, beside a normal 60 s clip.

The issue's bound: no input makes a door exceed 2.5 GB peak RSS, or take more than 60 s longer
than the same door takes for a normal 60 s clip. Cases (generated offline): 60 s of espeak
speech at 22,050 Hz (the audio reference) and resampled to 11,127 Hz and 44,101 Hz (ratios to
16 kHz that do not reduce); a 60 s face clip (the video reference) and a video whose single
frame claims to last 3,600 s; and one batch holding all of them plus bad lines. Each run is a
fresh process started by a small parent, so its peak RSS is its own (``wait4``).

    python benchmarks/hostile.py            # print the table
    python benchmarks/hostile.py --write    # and append it to BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from record import append_section, machine  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402

from tools import media  # noqa: E402
from tools.peak_rss import run_measured  # noqa: E402

LIMIT_MB, SLACK_S = 2500, 60.0
SPEECH = (
    "I really loved this film. The story was wonderful and the music made me smile. "
    "Then the ending dragged on and I was bored and annoyed by the last scene."
)


def make_media(root: Path) -> dict[str, Path]:
    rate, pcm = media.read_wav(media.speech_wav(root / "speech.wav", SPEECH))
    speech = np.tile(pcm.astype(np.float32) / 32768.0, 60 * rate // pcm.size + 1)[: 60 * rate]
    files = {"audio 60 s at 22,050 Hz": media.write_wav(root / "ref.wav", speech, rate)}
    for odd in (11_127, 44_101):
        moved = resample_poly(speech, odd, rate).astype(np.float32)
        files[f"audio 60 s at {odd:,} Hz"] = media.write_wav(root / f"odd_{odd}.wav", moved, odd)
    files["video 60 s face clip"] = media.face_clip(root / "face.mp4", seconds=60, fps=10)
    files["video, one frame of 3,600 s"] = media.one_frame_video(root / "hour.mp4", 3600)
    return files


def measure(argv: list[str]) -> dict:
    run = run_measured(argv, REPO_ROOT, {**os.environ, "HF_HUB_OFFLINE": "1"})
    return {
        "code": run.code,
        "wall_s": run.wall_s,
        "peak_mb": run.peak_mb,
        "traceback": "Traceback" in run.stderr,
        "stdout": run.stdout,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="append the table to BENCHMARKS.md")
    args = parser.parse_args()
    rows = []
    predict = [sys.executable, "-m", "firf", "predict", "--json"]
    with tempfile.TemporaryDirectory() as tmp:
        files = make_media(Path(tmp))
        for name, path in files.items():
            flag = "--audio" if name.startswith("audio") else "--video"
            result = measure([*predict, flag, str(path)])
            reference = "audio 60 s at 22,050 Hz" if flag == "--audio" else "video 60 s face clip"
            rows.append((f"predict {flag} ({name})", reference, result))
            print(name, {k: v for k, v in result.items() if k != "stdout"}, flush=True)
        jobs = Path(tmp) / "jobs.jsonl"
        lines = [
            json.dumps({"audio" if "audio" in n else "video": str(p)}) for n, p in files.items()
        ]
        lines += ['{"text": "lone \\ud800"}', "{bad", "[" * 100_000]
        jobs.write_bytes("\n".join(lines).encode() + b'\n{"text": "\xff\xfe"}\n')
        result = measure([sys.executable, "-m", "firf", "predict", "--batch", str(jobs)])
        result["records"] = len(result["stdout"].splitlines())
        rows.append(
            (f"predict --batch ({len(lines) + 1} lines: all of the above + bad)", None, result)
        )
        print("batch", {k: v for k, v in result.items() if k != "stdout"}, flush=True)
    section = report(rows)
    print(section)
    if args.write:
        append_section(section)


def report(rows: list) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    walls = {name: r["wall_s"] for name, _, r in rows}
    lines = [
        f"\n## Hostile input: peak RSS and time per door ({now})\n",
        f"Machine: {machine(torch.device('cpu'))}.  ",
        "Command: `python benchmarks/hostile.py` (each run a fresh `python -m firf predict` "
        "process, model loading included; bound: peak RSS <= 2.5 GB and wall <= the 60 s "
        "reference + 60 s).\n",
        "| run | exit | wall (s) | peak RSS (MB) | traceback | within bound |",
        "|---|---|---|---|---|---|",
    ]
    for name, reference, r in rows:
        ref_wall = next((w for n, w in walls.items() if reference and reference in n), None)
        timely = ref_wall is None or r["wall_s"] <= ref_wall + SLACK_S
        ok = r["peak_mb"] <= LIMIT_MB and timely and not r["traceback"]
        extra = f", {r['records']} records" if "records" in r else ""
        lines.append(
            f"| {name}{extra} | {r['code']} | {r['wall_s']:.1f} | {r['peak_mb']:.0f} | "
            f"{'yes' if r['traceback'] else 'no'} | {'yes' if ok else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
