"""The demo's pieces that need no server or model: examples, gauge, charts, explanation, table.

Pure functions of numbers (and the offline example generator), so they run with the fast tests.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from app.examples import build_examples
from app.explain import coverage_rows, explain
from app.plots import loss_label, score_gauge_html, subset_chart, subset_name

ALL = ["text", "audio", "vision"]


def test_examples_are_real_media(tmp_path: Path):
    examples = build_examples(tmp_path)
    talking = next(e for e in examples if e.video and e.modalities == ALL and e.intra_rate == 0)
    with av.open(talking.video) as clip:
        assert {s.type for s in clip.streams} == {"video", "audio"}
        assert clip.duration / 1e6 > 2.0
    assert any(e.audio and Path(e.audio).stat().st_size > 10_000 for e in examples)
    assert any(e.modalities != ALL for e in examples)  # one shows a modality switched off
    # A second start reuses the generated files instead of writing them again.
    stamp = Path(talking.video).stat().st_mtime_ns
    build_examples(tmp_path)
    assert Path(talking.video).stat().st_mtime_ns == stamp


def test_examples_without_espeak_keep_text_and_face(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # espeak-ng not on PATH
    examples = build_examples(tmp_path)
    assert all(e.audio is None for e in examples)
    assert any(e.text and not e.video for e in examples)
    assert any(e.video for e in examples)


def test_gauge_marks_the_score_and_clamps_it():
    assert 'data-score="1.2500"' in score_gauge_html(1.25, "positive")
    assert "left:100.0%" in score_gauge_html(7.0, "positive")
    assert "left:0.0%" in score_gauge_html(-3.0, "negative")
    assert "left:50.0%" in score_gauge_html(0.0, "neutral")


SCORES = {"t": -1.4, "a": 0.2, "v": 1.5, "ta": -1.1, "tv": 0.3, "av": 1.2, "tav": 0.35}


def test_chart_marks_full_input_selection_and_loss():
    fig = subset_chart(SCORES, full="tav", selected="av", after_loss=(0.4, -1.3))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [subset_name(s) for s in SCORES]
    assert labels[-1] == "text+audio+vision"
    rows = {label.get_text(): label.get_position()[1] for label in ax.get_yticklabels()}
    bars = {round(bar.get_y() + bar.get_height() / 2): bar for bar in ax.patches}
    by_name = {name: bars[round(row)] for name, row in rows.items()}
    assert by_name["text"].get_y() > by_name["text+audio+vision"].get_y()  # first subset on top
    assert by_name["text+audio+vision"].get_hatch() == "//"
    assert by_name["audio+vision"].get_linewidth() > by_name["text"].get_linewidth()
    assert [by_name[subset_name(s)].get_width() for s in SCORES] == pytest.approx(
        list(SCORES.values())
    )
    (ring,) = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert ring.get_markersize() >= 12  # the simulated loss must be easy to see
    assert (ring.get_xdata()[0], ring.get_ydata()[0]) == pytest.approx((-1.3, rows["audio+vision"]))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "with 40% of frames dropped: -1.30" in legend  # audio and vision: no tokens


def test_chart_values_sit_outside_the_plot_where_no_line_crosses_them():
    fig = subset_chart(SCORES, full="tav", selected="tav")
    ax = fig.axes[0]
    values = [t for t in ax.texts if t.get_text().startswith(("+", "-"))]
    assert len(values) == len(SCORES)
    assert all(t.get_position()[0] > 1 for t in values)  # x in axes units: right of the plot
    assert "+0.35 neutral" in [t.get_text() for t in values]


def test_chart_of_a_single_modality_is_a_short_strip_with_a_visible_value():
    one = subset_chart({"t": 0.02}, full="t", selected="t")
    seven = subset_chart(SCORES, full="tav", selected="tav")
    assert one.get_figheight() < seven.get_figheight() / 2
    ax = one.axes[0]
    (tick,) = [line for line in ax.get_lines() if line.get_marker() == "|"]
    assert tick.get_xdata()[0] == pytest.approx(0.02)
    assert not [line for line in ax.get_lines() if line.get_linestyle() == "--"]


def test_loss_label_names_what_was_dropped():
    assert loss_label(0.7, "tav") == "70% of frames and tokens"
    assert loss_label(0.7, "t") == "70% of tokens"
    assert loss_label(0.3, "av") == "30% of frames"


def test_explanation_says_which_modality_pulled_which_way():
    lines = explain(SCORES, full="tav", selected="tv", after_loss=(0.5, -0.2)).splitlines()
    assert len(lines) == len(SCORES) + 1  # one per subset on the chart, then the loss
    assert lines[0] == "- The words alone read **-1.40** (negative)."
    assert lines[2] == "- The face alone reads **+1.50** (positive)."
    assert lines[4] == (
        "- The words and the face together read **+0.30** (neutral): the words (-1.40) pull "
        "down, the face (+1.50) pulls up; they cancel out — *your selection, the score above*."
    )
    assert "the voice (+0.20) stays near neutral, the face (+1.50) pulls up." in lines[5]
    assert lines[6].endswith("*every input you gave*.")
    assert "50% of frames and tokens dropped" in lines[7] and "**-0.20**" in lines[7]


def test_explanation_names_the_winner_of_a_disagreement():
    text = explain({"t": -1.0, "v": 2.0, "tv": 1.2}, full="tv", selected="tv")
    assert "the words (-1.00) pull down, the face (+2.00) pulls up; the face wins" in text
    assert explain({"t": 0.1}, full="t", selected="t") == (
        "- The words alone read **+0.10** (neutral) — *your selection, the score above*."
    )


def test_coverage_reports_frames_and_tokens_the_simulated_loss_dropped():
    coverage = {
        "text": {"tokens": 12, "observed": 12, "dropped": 8},
        "audio": {"seconds": 3.04},
        "vision": {"frames": 30, "face_share": 1.0, "observed": 30, "dropped": 21},
    }
    rows = coverage_rows(coverage, used=("text", "vision"), switched_off=("audio",))
    assert rows == [
        ("text", "used", "12 tokens; simulated loss: 8 of 12 tokens dropped, 4 reach the model"),
        ("audio", "switched off", "3.0 s of sound"),
        (
            "vision",
            "used",
            "face in 100% of 30 frames; simulated loss: 21 of 30 frames dropped, 9 reach the model",
        ),
    ]
    assert coverage_rows({"text": {"tokens": 5}}, ("text",), ())[1] == ("audio", "not given", "-")
