"""Load test of the demo's /analyze endpoint: concurrent clients against a local server.

By default it starts ``python app.py`` itself on a free port of 127.0.0.1 (timing how long the
page takes to serve), then runs each scenario with `clients` threads sending `requests` calls
each through gradio_client, while it samples the resident memory of the server's whole process
tree. It prints a markdown table; ``--write`` appends it to benchmarks/BENCHMARKS.md with the
command, date and machine. ``--url`` (with ``--pid`` for memory) measures a server already
running instead. Linux only: memory is read from /proc.

    python benchmarks/load.py                      # 8 clients x 5 requests, text and a 5 s clip
    python benchmarks/load.py --write
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from gradio_client import Client, handle_file  # noqa: E402
from record import append_section  # noqa: E402

from app.examples import POSITIVE_SPEECH, face_clip, speak  # noqa: E402

ALL = ["text", "audio", "vision"]
REQUEST_TIMEOUT_S = 300.0
START_TIMEOUT_S = 300.0


@dataclass
class Result:
    scenario: str
    ok: int
    failed: int
    latencies: list[float]
    wall_s: float
    peak_rss_mb: float | None
    errors: list[str]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an app already running (default: start one on 127.0.0.1)")
    parser.add_argument("--pid", type=int, help="with --url: the server's pid, to measure memory")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5, help="requests per client")
    parser.add_argument("--clip-seconds", type=float, default=5.0)
    parser.add_argument("--weights", help="passed to app.py --weights")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/BENCHMARKS.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="firf-load-") as tmp:
        clip = make_clip(Path(tmp), args.clip_seconds)
        server = None
        startup_s = None
        url, pid = args.url, args.pid
        if url is None:
            server, url, startup_s = start_server(args.weights)
            pid = server.pid
        try:
            scenarios = {
                "text only": (None, "I really enjoyed this, it was a lovely surprise.", ["text"]),
                f"{args.clip_seconds:g} s clip (face + speech)": (str(clip), "", ALL),
            }
            results = [
                run_scenario(url, pid, name, video, text, mods, args.clients, args.requests)
                for name, (video, text, mods) in scenarios.items()
            ]
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    report = render(results, args, startup_s)
    print(report)
    if args.write:
        append_section("\n" + report)
    return 0 if all(r.failed == 0 for r in results) else 1


def make_clip(folder: Path, seconds: float) -> Path:
    """A face clip with spoken English, `seconds` long (speech when espeak-ng is installed)."""
    from skimage import data

    speech = speak(POSITIVE_SPEECH, folder / "speech.wav") if _has_espeak() else None
    return face_clip(folder / "clip.mp4", data.astronaut(), speech, seconds=seconds)


def _has_espeak() -> bool:
    import shutil

    return shutil.which("espeak-ng") is not None


def start_server(weights: str | None) -> tuple[subprocess.Popen, str, float]:
    """Run ``python app.py`` on a free port; return once the page serves, with the time it took."""
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port))
    command = [sys.executable, "app.py"] + (["--weights", weights] if weights else [])
    started = time.perf_counter()
    server = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = started + START_TIMEOUT_S
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"app.py exited with code {server.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return server, url, time.perf_counter() - started
        except OSError:
            time.sleep(0.25)
    server.kill()
    raise SystemExit(f"app.py did not serve {url} within {START_TIMEOUT_S:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_scenario(
    url: str,
    pid: int | None,
    name: str,
    video: str | None,
    text: str,
    modalities: list[str],
    clients: int,
    requests: int,
) -> Result:
    stop = threading.Event()
    peak = [0.0]
    sampler = threading.Thread(target=_sample_rss, args=(pid, stop, peak), daemon=True)
    if pid is not None:
        sampler.start()

    def client_loop(_: int) -> list[tuple[float | None, str | None]]:
        client = Client(url, verbose=False, analytics_enabled=False)
        outcomes = []
        for _ in range(requests):
            start = time.perf_counter()
            try:
                job = client.submit(
                    handle_file(video) if video else None,
                    None,
                    text,
                    modalities,
                    api_name="/analyze",
                )
                result = job.result(timeout=REQUEST_TIMEOUT_S)
                if not isinstance(result, dict) or "score" not in result:
                    raise ValueError(f"unexpected answer: {result!r:.200}")
                outcomes.append((time.perf_counter() - start, None))
            except Exception as error:  # every failure is counted and reported, not raised
                outcomes.append((None, f"{type(error).__name__}: {error}"[:200]))
        return outcomes

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        outcomes = [o for batch in pool.map(client_loop, range(clients)) for o in batch]
    wall = time.perf_counter() - started
    stop.set()
    latencies = [t for t, err in outcomes if err is None]
    errors = sorted({err for _, err in outcomes if err is not None})
    return Result(
        scenario=name,
        ok=len(latencies),
        failed=len(outcomes) - len(latencies),
        latencies=latencies,
        wall_s=wall,
        peak_rss_mb=peak[0] if pid is not None else None,
        errors=errors,
    )


def _sample_rss(pid: int, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], tree_rss_mb(pid))
        stop.wait(0.2)


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, in MiB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss_pages: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text()
        except OSError:  # the process ended while we looked
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        rss_pages[int(entry.name)] = int(statm.split()[1])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss_pages.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def render(results: list[Result], args: argparse.Namespace, startup_s: float | None) -> str:
    command = "python benchmarks/load.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if __name__ == "__main__" else [])
    )
    cpu = platform.processor() or platform.machine()
    lines = [
        f"## Demo load test ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"- command: `{command.strip()}`",
        f"- machine: {platform.node()}, {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}",
        f"- load: {args.clients} concurrent clients x {args.requests} requests to /analyze",
        f"- checkpoint: {args.weights or 'the default (weights/ or $FIRF_WEIGHTS)'}",
    ]
    if startup_s is not None:
        lines.append(f"- start-up of `python app.py` until the page serves: {startup_s:.1f} s")
    lines += [
        "",
        "| scenario | ok | failed | p50 latency (s) | p95 latency (s) | throughput (req/s) "
        "| peak RSS, server tree (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        p50 = f"{percentile(r.latencies, 50):.2f}" if r.latencies else "-"
        p95 = f"{percentile(r.latencies, 95):.2f}" if r.latencies else "-"
        rss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "-"
        lines.append(
            f"| {r.scenario} | {r.ok} | {r.failed} | {p50} | {p95} "
            f"| {r.ok / r.wall_s:.2f} | {rss} |"
        )
    for r in results:
        lines += [f"- {r.scenario}: failure `{e}`" for e in r.errors]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
