"""The result of one item of a long run: a value, or the reason it failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """What one item gave: ``value``, or ``error`` (``"Type: message"``) when it raised."""

    value: Any = None
    error: str | None = None
