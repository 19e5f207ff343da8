"""What the demo draws: the score gauge, the coverage table and the robustness chart.

Everything here is a pure function of numbers, so it is tested without a model. The chart uses
matplotlib's object API (``Figure``, not ``pyplot``): requests run on worker threads, and pyplot's
global figure registry is neither thread-safe nor freed without explicit ``close`` calls.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from firf import sentiment_label

NEGATIVE = "#d9534f"
NEUTRAL = "#8a8f98"
POSITIVE = "#2e9d5b"


def label_colour(label: str) -> str:
    return {"negative": NEGATIVE, "positive": POSITIVE}.get(label, NEUTRAL)


def score_gauge_html(score: float, label: str, score_range: float = 3.0) -> str:
    """A bar from -range to +range with a marker at `score`, the number and the label beside it.

    The number carries ``data-score`` so scripts (and the browser test) read the value the
    person sees rather than a copy of it.
    """
    share = (min(max(score, -score_range), score_range) + score_range) / (2 * score_range)
    colour = label_colour(label)
    return f"""
<div class="firf-gauge">
  <div class="firf-gauge-head">
    <span class="firf-score" data-score="{score:.4f}" style="color:{colour}">{score:+.2f}</span>
    <span class="firf-label" style="background:{colour}">{html.escape(label)}</span>
  </div>
  <div class="firf-gauge-track">
    <div class="firf-gauge-zero"></div>
    <div class="firf-gauge-marker" style="left:{100 * share:.1f}%;background:{colour}"></div>
  </div>
  <div class="firf-gauge-scale">
    <span>{-score_range:+g} negative</span><span>0</span><span>positive {score_range:+g}</span>
  </div>
</div>"""


PAGE_CSS = """
.firf-gauge { padding: 8px 4px; }
.firf-gauge-head { display: flex; align-items: center; gap: 14px; margin-bottom: 10px; }
.firf-score { font-size: 2.6rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.firf-label { color: white; border-radius: 999px; padding: 3px 14px; font-size: 1.1rem;
  font-weight: 600; }
.firf-gauge-track { position: relative; height: 14px; border-radius: 7px;
  background: linear-gradient(90deg, #d9534f 0%, #e9e9ec 50%, #2e9d5b 100%); }
.firf-gauge-zero { position: absolute; left: 50%; top: -3px; bottom: -3px; width: 2px;
  background: #555; }
.firf-gauge-marker { position: absolute; top: -6px; width: 12px; height: 26px;
  margin-left: -6px; border-radius: 4px; border: 2px solid white; box-shadow: 0 0 3px #333; }
.firf-gauge-scale { display: flex; justify-content: space-between; font-size: 0.8rem;
  color: #666; margin-top: 4px; }
.firf-coverage td, .firf-coverage th { padding: 2px 10px 2px 0; text-align: left; }
"""


def coverage_html(rows: Sequence[tuple[str, str, str]]) -> str:
    """A small table: modality, whether it reached the model, and how much of it there was."""
    body = "".join(
        f"<tr><td><b>{html.escape(name)}</b></td><td>{html.escape(state)}</td>"
        f"<td>{html.escape(amount)}</td></tr>"
        for name, state, amount in rows
    )
    return (
        '<table class="firf-coverage"><tr><th>modality</th><th>status</th><th>coverage</th></tr>'
        f"{body}</table>"
    )


WORD = {"t": "text", "a": "audio", "v": "vision"}


def subset_name(subset: str) -> str:
    """ "tv" -> "text+vision": a bar's label."""
    return "+".join(WORD[letter] for letter in subset)


def loss_label(rate: float, subset: str) -> str:
    """ "70% of tokens", "70% of frames" or "70% of frames and tokens": what the loss hit in
    `subset` ("tv": text tokens, audio and video frames)."""
    units = [u for u, hit in (("frames", set(subset) - {"t"}), ("tokens", "t" in subset)) if hit]
    return f"{100 * rate:.0f}% of {' and '.join(units)}"


def subset_chart(
    scores: Mapping[str, float],
    full: str,
    selected: str,
    after_loss: tuple[float, float] | None = None,
    score_range: float = 3.0,
) -> Figure:
    """One horizontal bar per subset of the given modalities ("t", "ta", ...), coloured by label.

    The figure is as tall as the number of subsets needs, so a single subset is a short strip,
    not a bar lost in an empty panel; a tick at each value keeps a score near 0 visible. The
    values are written in a column right of the plot, where no line crosses them. With more than
    one subset, a dashed line at the full-input score lets the distance of every reduced subset
    from it (what reconstruction keeps) read at a glance; the full-input bar is hatched and the
    subset the person selected is outlined. The bars use every frame; with simulated intra-modal
    loss, `after_loss` = (rate, score) marks the degraded score on the selected bar with a large
    ring and adds it to that bar's value.
    """
    names = list(scores)
    fig = Figure(figsize=(6.4, 1.5 + 0.42 * len(names)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    rows = list(range(len(names)))[::-1]  # first subset on top
    values = [scores[s] for s in names]
    colours = [label_colour(sentiment_label(v)) for v in values]
    bars = ax.barh(rows, values, height=0.6, color=colours, alpha=0.85)
    ax.plot(
        values,
        rows,
        marker="|",
        markersize=16,
        markeredgewidth=2.5,
        color="#333",
        linestyle="none",
        zorder=3,
    )
    side = ax.get_yaxis_transform()  # x in axes units, y in data units
    for subset, bar, row, value in zip(names, bars, rows, values, strict=True):
        if subset == selected:
            bar.set_edgecolor("black")
            bar.set_linewidth(2.5)
        if subset == full:
            bar.set_hatch("//")
        text = f"{value:+.2f} {sentiment_label(value)}"
        if after_loss is not None and subset == selected:
            text += f"\n{after_loss[1]:+.2f} after the loss"
        ax.text(
            1.02,
            row,
            text,
            transform=side,
            va="center",
            ha="left",
            fontsize=9,
            color=label_colour(sentiment_label(value)),
            fontweight="bold",
        )
    if len(names) > 1:
        ax.axvline(
            scores[full],
            color="black",
            linestyle="--",
            linewidth=1,
            zorder=2,
            label=f"all given inputs ({subset_name(full)}): {scores[full]:+.2f}",
        )
    if after_loss is not None and selected in scores:
        rate, score = after_loss
        ax.plot(
            [score],
            [rows[names.index(selected)]],
            marker="o",
            markersize=13,
            markerfacecolor="white",
            markeredgecolor="black",
            markeredgewidth=2.5,
            linestyle="none",
            zorder=4,
            label=f"with {loss_label(rate, selected)} dropped: {score:+.2f}",
        )
    ax.axvline(0, color="#444", linewidth=0.8)
    ax.set_yticks(rows, [subset_name(s) for s in names])
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlim(-score_range * 1.1, score_range * 1.1)
    ax.set_xlabel("sentiment score (-3 negative .. +3 positive)")
    ax.set_title(
        "The score with each subset of the given inputs"
        if len(names) > 1
        else "The score (only one modality given)",
        fontsize=10,
        loc="left",
    )
    ax.spines[["top", "right"]].set_visible(False)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower left", fontsize=8, frameon=False, ncols=2)
    return fig


MODALITY_COLOURS = {"text": "#1f77b4", "audio": "#ff7f0e", "vision": "#9467bd"}


def timeline_chart(points: Sequence[Mapping], score_range: float = 3.0) -> Figure:
    """The score over time: each modality's own score as a bar across its segment (coloured),
    the combined score as a black line through the segments' middles.

    A modality's bars stop where it is missing (face out of the picture, silence, no words) and
    the black line breaks over a stretch that had nothing to score, so drop-outs show as gaps.
    """
    fig = Figure(figsize=(6.4, 2.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for m, colour in MODALITY_COLOURS.items():
        spans = [(p["start"], p["end"], p["modalities"].get(m)) for p in points]
        spans = [(a, b, v) for a, b, v in spans if v is not None]
        if spans:
            xs = [x for a, b, _ in spans for x in (a, b, float("nan"))]
            ys = [y for _, _, v in spans for y in (v, v, float("nan"))]
            ax.plot(xs, ys, color=colour, linewidth=3, alpha=0.8, solid_capstyle="butt", label=m)
    times: list[float] = []
    scores: list[float] = []
    for index, point in enumerate(points):
        if index and points[index - 1]["end"] < point["start"] - 1e-6:  # a stretch left out
            times.append((points[index - 1]["end"] + point["start"]) / 2)
            scores.append(float("nan"))
        times.append((point["start"] + point["end"]) / 2)
        scores.append(point["score"])
    ax.plot(times, scores, color="black", marker="o", markersize=3, linewidth=1.5, label="all kept")
    ax.axhline(0, color="#444", linewidth=0.8)
    ax.set_ylim(-score_range * 1.05, score_range * 1.05)
    ax.set_xlim(0, max((p["end"] for p in points), default=1.0))
    ax.set_title("Sentiment over time, per utterance or quiet stretch", fontsize=11)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("sentiment score")
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=4)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
