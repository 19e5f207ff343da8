"""The result in plain words: what each modality reads on its own and which way it pulls.

Pure functions of the scores (and of the coverage numbers), so they are tested without a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.plots import loss_label
from firf import MODALITIES, NEUTRAL_BAND, sentiment_label

# What a person calls each modality; text is plural ("the words read ...").
SPOKEN_NAME = {"t": "the words", "a": "the voice", "v": "the face"}
LEAN = NEUTRAL_BAND  # within the neutral band a modality pulls neither way


def _reads(subset: str) -> str:
    return "read" if subset == "t" or len(subset) > 1 else "reads"


def _names(subset: str) -> str:
    names = [SPOKEN_NAME[letter] for letter in subset]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _pulls(scores: Mapping[str, float], subset: str) -> str:
    """ "the face (+1.50) pulls up, the words (-1.40) pull down": each member on its own."""
    parts = []
    for letter in subset:
        alone = scores[letter]
        verb = "pull" if letter == "t" else "pulls"
        if alone >= LEAN:
            way = f"{verb} up"
        elif alone <= -LEAN:
            way = f"{verb} down"
        else:
            way = "stay near neutral" if letter == "t" else "stays near neutral"
        parts.append(f"{SPOKEN_NAME[letter]} ({alone:+.2f}) {way}")
    return ", ".join(parts)


def _verdict(scores: Mapping[str, float], subset: str) -> str:
    """Who wins when the members disagree: the one whose direction the combination takes."""
    ups = [x for x in subset if scores[x] >= LEAN]
    downs = [x for x in subset if scores[x] <= -LEAN]
    if not (ups and downs):
        return ""
    together = scores[subset]
    if abs(together) < LEAN:
        return "; they cancel out"
    side = ups if together > 0 else downs
    verb = "wins" if len(side) == 1 and side[0] != "t" else "win"
    return f"; {_names(''.join(side))} {verb}"


def explain(
    scores: Mapping[str, float],
    full: str,
    selected: str,
    after_loss: tuple[float, float] | None = None,
) -> str:
    """Markdown: one line per subset in `scores` (the chart's bars, same order).

    A single modality says what it reads; a combination says what it reads together and which
    way each member pulls on its own, e.g. "the words and the face together read +0.30
    (neutral): the words (-1.40) pull down, the face (+1.50) pulls up; they cancel out".
    `selected` is the subset behind the score at the top of the page, `full` every input given.
    """
    lines = []
    for subset, score in scores.items():
        label = sentiment_label(score)
        if len(subset) == 1:
            line = (
                f"{_names(subset).capitalize()} alone {_reads(subset)} **{score:+.2f}** ({label})"
            )
        else:
            line = (
                f"{_names(subset).capitalize()} together read **{score:+.2f}** ({label}): "
                f"{_pulls(scores, subset)}{_verdict(scores, subset)}"
            )
        marks = []
        if subset == selected:
            marks.append("your selection, the score above")
        if subset == full and len(scores) > 1:
            marks.append("every input you gave")
        if marks:
            line += f" — *{'; '.join(marks)}*"
        lines.append(f"- {line}.")
    if after_loss is not None and selected in scores:
        rate, score = after_loss
        lines.append(
            f"- With {loss_label(rate, selected)} dropped at random, your selection reads "
            f"**{score:+.2f}** ({sentiment_label(score)}) instead of {scores[selected]:+.2f}."
        )
    return "\n".join(lines)


def coverage_rows(
    coverage: Mapping[str, Mapping[str, Any]], used: Sequence[str], switched_off: Sequence[str]
) -> list[tuple[str, str, str]]:
    """Per modality: used, switched off, missing or not given, and how much of it the model saw.

    With simulated loss the amount says how many frames (tokens for text) were dropped, so the
    table never reports "100% of frames" for a clip that lost most of them.
    """
    rows = []
    for name in MODALITIES:
        info = coverage.get(name)
        if info is None:
            rows.append((name, "not given", "-"))
            continue
        if name in used:
            state = "used"
        else:
            state = "switched off" if name in switched_off else "missing (see the warnings)"
        if name == "vision":
            amount = f"face in {100 * info['face_share']:.0f}% of {info['frames']} frames"
        elif name == "audio":
            amount = f"{info['seconds']:.1f} s of sound"
        else:
            amount = f"{info['tokens']} tokens"
        if info.get("dropped") and name in used:
            unit = "tokens" if name == "text" else "frames"
            kept = info["observed"] - info["dropped"]
            amount += (
                f"; simulated loss: {info['dropped']} of {info['observed']} {unit} dropped, "
                f"{kept} reach the model"
            )
        rows.append((name, state, amount))
    return rows
