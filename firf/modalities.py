"""Modality names, their one-letter codes, subset strings and benchmark dataset kinds: the
vocabulary every layer shares.

Torch-free on purpose, so ``import firf`` and the app's argument handling stay cheap.
"""

from __future__ import annotations

from collections.abc import Iterable

from firf.errors import InputError

MODALITIES: tuple[str, str, str] = ("text", "audio", "vision")
SHORT: dict[str, str] = {"text": "t", "audio": "a", "vision": "v"}
LONG: dict[str, str] = {code: name for name, code in SHORT.items()}
# The 7 non-empty subsets, in the order of the inter-modal protocol (CorrKD / HRLF / FSRF).
SUBSETS: tuple[str, ...] = ("t", "a", "v", "ta", "tv", "av", "tav")
# Benchmark kinds: "mosi" and "mosei" share metrics and the [-3, 3] scale, "sims" has [-1, 1].
DATASET_KINDS: tuple[str, ...] = ("mosi", "mosei", "sims")


def parse_modalities(names: str | Iterable[str]) -> tuple[str, ...]:
    """``"vision,a"`` or ``["t", "audio"]`` -> full names in batch order; unknown names raise."""
    if isinstance(names, str):
        names = names.split(",")
    elif not isinstance(names, Iterable):
        raise InputError(f"modalities to drop must be a list of names, got {names!r}")
    chosen = set()
    for raw in names:
        if not isinstance(raw, str):
            raise InputError(f"modality names must be strings, got {raw!r}")
        name = raw.strip().lower()
        if not name:
            continue
        name = LONG.get(name, name)
        if name not in MODALITIES:
            raise InputError(f"unknown modality {raw!r}: use text, audio, vision (or t, a, v)")
        chosen.add(name)
    return tuple(m for m in MODALITIES if m in chosen)


def parse_subset(subset: str) -> tuple[str, ...]:
    """``"ta"`` -> ``("text", "audio")``; rejects empty, repeated or unknown letters."""
    if not subset or len(set(subset)) != len(subset) or not set(subset) <= set(LONG):
        raise InputError(
            f"modality subset {subset!r} is not valid: use a non-empty combination of the "
            f"letters t, a, v, e.g. one of {', '.join(SUBSETS)}"
        )
    return tuple(m for m in MODALITIES if SHORT[m] in subset)


def subset_code(modalities: Iterable[str]) -> str:
    """``("vision", "text")`` -> ``"tv"``: the subset string of these modalities, in order."""
    chosen = set(modalities)
    return "".join(SHORT[m] for m in MODALITIES if m in chosen)
