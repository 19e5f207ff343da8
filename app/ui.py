"""The demo's page and its two handlers: the visual one and the /analyze API for scripts.

Features are extracted once per request; the prediction with the chosen modalities and the
prediction for every subset of the given ones then reuse them, which is what makes the robustness
panel affordable on a CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr
import numpy as np
from matplotlib.figure import Figure

from app.budget import RequestBudget
from app.examples import Example
from app.explain import coverage_rows, explain
from app.plots import coverage_html, score_gauge_html, subset_chart, timeline_chart
from firf import (
    MODALITIES,
    TIMELINE_SECONDS,
    Features,
    InputError,
    Pipeline,
    Prediction,
    draw_landmarks,
    predict_timeline,
    printable,
    subset_code,
)
from firf import predict as firf_predict

log = logging.getLogger("app")

INTRO = """
# FIRF: sentiment that survives missing modalities
Record or upload a short clip of a face, speak, or type a sentence; FIRF scores the sentiment
from -3 (very negative) to +3 (very positive). Switch modalities off, or drop a share of their
frames, to see how much of the prediction the model reconstructs from what is left.
"""

# The page's outputs, in the order the handlers return them. A new output gets a name here, a
# component in ``build_demo`` and a value in ``result_view`` and ``empty_view``.
OUTPUTS = (
    "score",
    "explanation",
    "text_source",
    "coverage",
    "chart",
    "timeline",
    "face",
    "result",
)
TIMELINE_FROM_SECONDS = 10.0  # clips at least this long also get a timeline
PLACEHOLDER = "The score appears here after you press Analyze."
ANALYSING = "Analysing: decoding, transcribing and reading the face take a few seconds on a CPU."
FAILED = "No result: see the message at the top right."


@contextmanager
def readable_errors() -> Iterator[None]:
    """Show bad input as a message in the page (and to API clients), never as a traceback."""
    try:
        yield
    except InputError as error:
        message = printable(str(error))
        log.info("input refused: %s", message)  # expected: one line, no traceback
        raise gr.Error(message, title="Cannot analyse this input", print_exception=False) from None


class Analyzer:
    """The request handlers, bound to one pipeline loaded at start-up."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline

    def analyze(
        self, video: str | None, audio: str | None, text: str, modalities: list[str]
    ) -> dict:
        """/analyze: (video path, audio path, text, modalities to use) -> ``Prediction.to_dict()``.

        Switched-off modalities are not even extracted here: scripts want the answer, not the
        robustness panel.
        """
        with readable_errors():
            inputs = _inputs(video, audio, text, modalities)
            pred = firf_predict(
                **inputs, drop=_dropped(modalities), transcript=True, pipeline=self.pipeline
            )
        return pred.to_dict()

    def analyze_view(
        self,
        video: str | None,
        audio: str | None,
        text: str,
        modalities: list[str],
        intra_rate: float,
    ) -> list:
        """Every output of the page, in ``OUTPUTS`` order (see ``result_view``)."""
        with readable_errors():
            inputs = _inputs(video, audio, text, modalities)
            features = self.pipeline.features(**inputs, transcript=True)
            pred = self.pipeline.run(features, drop=_dropped(modalities), intra_rate=intra_rate)
            pred.subsets = self.pipeline.run_subsets(features)
        for warning in pred.warnings:
            gr.Warning(warning)
        view = result_view(
            pred, features, _dropped(modalities), after_loss=(intra_rate, pred.score)
        )
        figure = self.timeline_figure(video, audio, text, modalities, pred)
        view["timeline"] = gr.Plot(figure, visible=figure is not None)
        return [view[name] for name in OUTPUTS]

    def timeline_figure(
        self,
        video: str | None,
        audio: str | None,
        text: str,
        modalities: list[str],
        pred: Prediction,
    ) -> Figure | None:
        """The score over time for a clip of ``TIMELINE_FROM_SECONDS`` or more, else None.

        It scores the clip again segment by segment, within the app's ``--max-seconds`` cap;
        typed text has no time in the clip, so with typed text there is no timeline.
        """
        seconds = max(
            pred.coverage.get("audio", {}).get("seconds", 0.0),
            pred.coverage.get("vision", {}).get("frames", 0) / self.pipeline.extractors.fps,
        )
        if seconds < TIMELINE_FROM_SECONDS or (text or "").strip():
            return None
        with readable_errors():
            over_time = predict_timeline(
                self.pipeline,
                video or None,
                audio or None,
                None,
                _dropped(modalities),
                max_seconds=min(self.pipeline.extractors.max_seconds, TIMELINE_SECONDS),
            )
        return timeline_chart(over_time.timeline)


def _inputs(
    video: str | None, audio: str | None, text: str | None, modalities: list[str] | None
) -> dict:
    """The pipeline's keyword arguments; an empty text box means "no text", not empty text."""
    if not modalities:
        raise InputError(
            "every modality is switched off; tick at least one of text, audio or vision"
        )
    return {"video": video or None, "audio": audio or None, "text": (text or "").strip() or None}


def _dropped(modalities: list[str]) -> tuple[str, ...]:
    return tuple(m for m in MODALITIES if m not in modalities)


def result_view(
    pred: Prediction,
    features: Features,
    switched_off: tuple[str, ...],
    after_loss: tuple[float, float] = (0.0, 0.0),
) -> dict[str, Any]:
    """What each output shows for `pred` (which carries every subset's score in ``subsets``).

    `after_loss` = (rate, score) of the simulated intra-modal loss; a rate of 0 means none.
    """
    full, selected = subset_code(features.available), subset_code(pred.used)
    loss = after_loss if after_loss[0] else None
    return {
        "score": score_gauge_html(pred.score, pred.label),
        "explanation": "**Why this score:** each input on its own, then together\n\n"
        + explain(pred.subsets, full, selected, loss),
        "text_source": details_markdown(pred),
        "coverage": coverage_html(coverage_rows(pred.coverage, pred.used, switched_off)),
        "chart": gr.Plot(subset_chart(pred.subsets, full, selected, loss), visible=True),
        "timeline": gr.Plot(None, visible=False),  # filled by Analyzer for long clips
        "face": gr.Image(landmarks_frame(features), visible=bool(features.frames)),
        "result": pred.to_dict(),
    }


def empty_view(message: str) -> dict[str, Any]:
    """Every output cleared, with `message` where the score goes (e.g. while analysing)."""
    return {
        "score": f'<div class="firf-gauge"><i>{message}</i></div>',
        "explanation": "",
        "text_source": "",
        "coverage": "",
        "chart": gr.Plot(None, visible=False),
        "timeline": gr.Plot(None, visible=False),
        "face": gr.Image(None, visible=False),
        "result": None,
    }


def details_markdown(pred: Prediction) -> str:
    """Where the text came from, what was heard, and why a given input was treated as missing."""
    source = {
        "typed": "the typed text",
        "transcript": "the speech transcript (no text was typed)",
    }.get(pred.text_source or "", "none (text not given or switched off)")
    heard = pred.transcript if pred.transcript else "*(no speech given or recognised)*"
    lines = [f"**Text used:** {source}", f"**Speech transcript:** {heard}"]
    lines += [f"**Warning:** {warning}" for warning in pred.warnings]
    return "  \n".join(lines)


def landmarks_frame(features: Features) -> np.ndarray | None:
    """The middle frame among those with a face, landmarks drawn; None without a video."""
    if not features.frames:
        return None
    found = [i for i, points in enumerate(features.landmarks) if points is not None]
    if not found:
        return features.frames[len(features.frames) // 2]
    index = found[len(found) // 2]
    return draw_landmarks(features.frames[index], features.landmarks[index])


def cleared(message: str) -> Callable[[], list]:
    """A handler that empties every output and shows `message` where the score goes."""
    return lambda: [empty_view(message)[name] for name in OUTPUTS]


def build_demo(
    pipeline: Pipeline, examples: list[Example], budget: RequestBudget | None = None
) -> gr.Blocks:
    analyzer = Analyzer(pipeline)
    budget = budget or RequestBudget()
    # Uploads are deleted an hour after they arrive, so a long-running demo keeps its disk use.
    with gr.Blocks(
        title="FIRF sentiment demo", analytics_enabled=False, delete_cache=(3600, 3600)
    ) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                video = gr.Video(
                    sources=["upload", "webcam"],
                    include_audio=True,
                    label="Video: face (its sound is used as audio)",
                )
                audio = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", label="Audio: speech"
                )
                text = gr.Textbox(
                    label="Text",
                    lines=2,
                    placeholder="Type a sentence, or leave empty to use the speech transcript",
                    elem_id="text-input",
                )
                modalities = gr.CheckboxGroup(
                    list(MODALITIES),
                    value=list(MODALITIES),
                    label="Use",
                    info="switched-off modalities are reconstructed from the others",
                    elem_id="modalities",
                )
                intra_rate = gr.Slider(
                    0.0,
                    0.9,
                    value=0.0,
                    step=0.1,
                    label="Simulated intra-modal loss",
                    info="share of frames and tokens dropped at random (seeded)",
                )
                run = gr.Button("Analyze", variant="primary", elem_id="analyze")
            with gr.Column(scale=6):
                outputs = {
                    "score": gr.HTML(empty_view(PLACEHOLDER)["score"], elem_id="score"),
                    "explanation": gr.Markdown(elem_id="explanation"),
                    "text_source": gr.Markdown(elem_id="text-source"),
                    "coverage": gr.HTML(elem_id="coverage"),
                    "chart": gr.Plot(show_label=False, visible=False, elem_id="chart"),
                    "timeline": gr.Plot(show_label=False, visible=False, elem_id="timeline"),
                    "face": gr.Image(
                        label="Face landmarks (middle frame with a face)",
                        interactive=False,
                        height=260,
                        visible=False,
                    ),
                }
                with gr.Accordion("Full result (JSON)", open=False):
                    outputs["result"] = gr.JSON(label="prediction")
        shown = [outputs[name] for name in OUTPUTS]
        inputs = [video, audio, text, modalities, intra_rate]
        examples_table = gr.Examples(
            [e.row() for e in examples],
            inputs=inputs,
            example_labels=[e.label for e in examples],
            label="Examples (generated offline at start-up)",
        )
        # A result must never sit next to inputs it was not computed from.
        examples_table.load_input_event.then(
            cleared(PLACEHOLDER),
            outputs=shown,
            show_progress="hidden",
            queue=False,
            api_visibility="private",
        )
        # Progress is the "Analysing" line in place of the score, not Gradio's status overlay:
        # on an error that overlay puts a red "Error" badge on every output, next to the
        # error message that already says what went wrong.
        run.click(
            cleared(ANALYSING),
            outputs=shown,
            show_progress="hidden",
            queue=False,
            api_visibility="private",
        ).then(
            budget.wrap(analyzer.analyze_view),
            inputs=inputs,
            outputs=shown,
            show_progress="hidden",
            api_visibility="private",
        ).failure(
            cleared(FAILED),
            outputs=shown,
            show_progress="hidden",
            queue=False,
            api_visibility="private",
        )
        # API-only endpoint with exactly the documented signature (no trigger on the page).
        gr.on(
            triggers=[],
            fn=budget.wrap(analyzer.analyze),
            inputs=[video, audio, text, modalities],
            outputs=outputs["result"],
            api_name="analyze",
        )
    return demo
