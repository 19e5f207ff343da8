"""What every benchmark script records beside its numbers: the machine, and one place to write.

Scripts run as ``python benchmarks/NAME.py``, so this module is importable as ``record``.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

BENCHMARKS_MD = Path(__file__).resolve().parent / "BENCHMARKS.md"


def machine(device: torch.device) -> str:
    """The chip, core count, torch build, thread count and load: what makes timings comparable."""
    if device.type == "cuda":
        chip = torch.cuda.get_device_name(device)
    else:
        chip = platform.processor() or platform.machine()
        cpuinfo = Path("/proc/cpuinfo")
        if cpuinfo.exists():
            names = [ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
            if names:
                chip = names[0].split(":", 1)[1].strip()
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{chip}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads{load}"
    )


def append_section(section: str) -> None:
    """Append a results section to benchmarks/BENCHMARKS.md (earlier runs stay as history)."""
    with BENCHMARKS_MD.open("a", encoding="utf-8") as out:
        out.write(section)
