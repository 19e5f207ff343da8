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


GAUGE_CSS = """
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


def subset_name(subset: str) -> str:
    """ "tav" -> "t+a+v": short enough for a bar label."""
    return "+".join(subset)


def subset_chart(
    scores: Mapping[str, float],
    full: str,
    selected: str,
    after_loss: tuple[float, float] | None = None,
    score_range: float = 3.0,
) -> Figure:
    """One bar per subset of the given modalities ("t", "ta", ...), coloured by label.

    A dashed line at the full-input score lets the distance of every reduced subset from it
    (what reconstruction keeps) read at a glance; the full-input bar is hatched and the subset
    the person actually selected gets a thick outline. The bars use every frame; with simulated
    intra-modal loss, `after_loss` = (rate, score) puts the degraded score on the selected bar
    as a diamond, so both effects show side by side.
    """
    fig = Figure(figsize=(6.4, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    names = list(scores)
    values = [scores[s] for s in names]
    colours = [label_colour(sentiment_label(v)) for v in values]
    bars = ax.bar([subset_name(s) for s in names], values, color=colours, alpha=0.85)
    for subset, bar, value in zip(names, bars, values, strict=True):
        if subset == selected:
            bar.set_edgecolor("black")
            bar.set_linewidth(2.5)
        if subset == full:
            bar.set_hatch("//")
        ax.annotate(
            f"{value:+.2f}",
            (bar.get_x() + bar.get_width() / 2, value),
            xytext=(0, 3 if value >= 0 else -3),
            textcoords="offset points",
            ha="center",
            va="bottom" if value >= 0 else "top",
            fontsize=9,
        )
    ax.axhline(
        scores[full],
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"all given inputs ({subset_name(full)}): {scores[full]:+.2f}",
    )
    if after_loss is not None and selected in scores:
        rate, score = after_loss
        bar = bars[names.index(selected)]
        ax.plot(
            [bar.get_x() + bar.get_width() / 2],
            [score],
            marker="D",
            color="black",
            linestyle="none",
            label=f"with {100 * rate:.0f}% of frames dropped: {score:+.2f}",
        )
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.axhline(0, color="#444", linewidth=0.8)
    # Keep bars slim and centred when there are only one or two of them.
    pad = max(0.6, (4 - len(names)) / 2)
    ax.set_xlim(-pad, len(names) - 1 + pad)
    ax.set_ylim(-score_range * 1.15, score_range * 1.15)
    ax.set_title("Robustness: the score with each subset of the given inputs", fontsize=11)
    ax.set_ylabel("sentiment score")
    ax.set_xlabel("modalities kept (t text, a audio, v vision; outlined: your selection)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig
