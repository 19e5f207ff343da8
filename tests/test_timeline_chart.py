"""The timeline chart of the demo page: one line per modality, broken where it is missing."""

from __future__ import annotations

import math

from app.plots import timeline_chart

POINTS = [
    {
        "start": 0.0,
        "end": 3.0,
        "score": 1.2,
        "modalities": {"text": 1.5, "audio": 0.4, "vision": 1.0},
    },
    {
        "start": 3.0,
        "end": 8.0,
        "score": 0.9,
        "modalities": {"text": None, "audio": None, "vision": 0.9},
    },
    # 8-13 s: nothing to score (silence, no face)
    {
        "start": 13.0,
        "end": 16.0,
        "score": -1.1,
        "modalities": {"text": -1.4, "audio": -0.2, "vision": None},
    },
]


def lines(fig) -> dict:
    ax = fig.axes[0]
    return {
        line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")
    }


def test_each_modality_has_its_line_with_gaps_where_it_is_missing():
    drawn = lines(timeline_chart(POINTS))
    assert set(drawn) == {"text", "audio", "vision", "all kept"}
    # The combined score through the segments' middles, broken over the unscored stretch.
    assert list(drawn["all kept"].get_xdata()) == [1.5, 5.5, 10.5, 14.5]
    assert [v for v in drawn["all kept"].get_ydata() if not math.isnan(v)] == [1.2, 0.9, -1.1]
    # Each modality: a bar across every segment where it is present, nothing elsewhere.
    assert spans(drawn["text"]) == [(0.0, 3.0, 1.5), (13.0, 16.0, -1.4)]
    assert spans(drawn["vision"]) == [(0.0, 3.0, 1.0), (3.0, 8.0, 0.9)]


def spans(line) -> list[tuple[float, float, float]]:
    xs, ys = list(line.get_xdata()), list(line.get_ydata())
    return [(xs[i], xs[i + 1], ys[i]) for i in range(0, len(xs), 3)]


def test_a_modality_missing_everywhere_gets_no_line():
    silent = [{**p, "modalities": {**p["modalities"], "audio": None}} for p in POINTS]
    assert "audio" not in lines(timeline_chart(silent))
