"""Run a command and read its peak memory, as the hostile-input tests and benchmark need.

Peak RSS must be read from a process started by a small one: Linux carries the high-water mark
of the forking process (pytest, or a benchmark with models loaded) into a child's rusage across
exec, so a tiny Python wrapper starts the command and reports its ``ru_maxrss``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_WRAPPER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass
class Measured:
    code: int
    stdout: str
    stderr: str
    peak_mb: float
    wall_s: float


def run_measured(
    argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float | None = None
) -> Measured:
    """Exit code, output, peak RSS (MB) and wall time of ``argv``; past ``timeout_s`` the whole
    process group is killed and ``TimeoutError`` raised."""
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak_kb"
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, str(peak_file), *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout stops the child too
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TimeoutError(f"{argv} ran past {timeout_s} s") from None
        wall = time.perf_counter() - started
        peak = int(peak_file.read_text()) / 1024
    return Measured(process.returncode, stdout.decode(), stderr.decode(), peak, wall)
