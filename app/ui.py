"""The demo's page and its two handlers: the visual one and the /analyze API for scripts.

Features are extracted once per request; the prediction with the chosen modalities and the
prediction for every subset of the given ones then reuse them, which is what makes the robustness
panel affordable on a CPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr
import numpy as np

from app.examples import Example
from app.plots import coverage_html, score_gauge_html, subset_chart
from firf import (
    MODALITIES,
    Features,
    InputError,
    Pipeline,
    Prediction,
    draw_landmarks,
    subset_code,
)
from firf import predict as firf_predict

INTRO = """
# FIRF: sentiment that survives missing modalities
Record or upload a short clip of a face, speak, or type a sentence; FIRF scores the sentiment
from -3 (very negative) to +3 (very positive). Switch modalities off, or drop a share of their
frames, to see how much of the prediction the model reconstructs from what is left.
"""


@contextmanager
def readable_errors() -> Iterator[None]:
    """Show bad input as a message in the page (and to API clients), never as a traceback."""
    try:
        yield
    except InputError as error:
        raise gr.Error(
            str(error), title="Cannot analyse this input", print_exception=False
        ) from None


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
            pred = firf_predict(**inputs, drop=_dropped(modalities), pipeline=self.pipeline)
        return pred.to_dict()

    def analyze_view(
        self,
        video: str | None,
        audio: str | None,
        text: str,
        modalities: list[str],
        intra_rate: float,
    ) -> tuple:
        """Everything the page shows: gauge, text source, coverage, subsets chart, face, JSON."""
        with readable_errors():
            features = self.pipeline.features(**_inputs(video, audio, text, modalities))
            pred = self.pipeline.run(features, drop=_dropped(modalities), intra_rate=intra_rate)
            pred.subsets = self.pipeline.run_subsets(features)
        for warning in pred.warnings:
            gr.Warning(warning)
        chart = subset_chart(
            pred.subsets,
            full=subset_code(features.available),
            selected=subset_code(pred.used),
            after_loss=(intra_rate, pred.score) if intra_rate else None,
        )
        return (
            score_gauge_html(pred.score, pred.label),
            details_markdown(pred),
            coverage_html(coverage_rows(pred, _dropped(modalities))),
            chart,
            gr.Image(landmarks_frame(features), visible=bool(features.frames)),
            pred.to_dict(),
        )


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


def coverage_rows(pred: Prediction, switched_off: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Per modality: used, switched off, missing or not given, and how much of it there was."""
    rows = []
    for name in MODALITIES:
        info = pred.coverage.get(name)
        if info is None:
            rows.append((name, "not given", "-"))
            continue
        if name in pred.used:
            state = "used"
        else:
            state = "switched off" if name in switched_off else "missing (see the warnings)"
        if name == "vision":
            amount = f"face in {100 * info['face_share']:.0f}% of {info['frames']} frames"
        elif name == "audio":
            amount = f"{info['seconds']:.1f} s of sound"
        else:
            amount = f"{info['tokens']} tokens"
        rows.append((name, state, amount))
    return rows


def landmarks_frame(features: Features) -> np.ndarray | None:
    """The middle frame among those with a face, landmarks drawn; None without a video."""
    if not features.frames:
        return None
    found = [i for i, points in enumerate(features.landmarks) if points is not None]
    if not found:
        return features.frames[len(features.frames) // 2]
    index = found[len(found) // 2]
    return draw_landmarks(features.frames[index], features.landmarks[index])


def build_demo(pipeline: Pipeline, examples: list[Example]) -> gr.Blocks:
    analyzer = Analyzer(pipeline)
    # Uploads are deleted an hour after they arrive, so a long-running demo keeps its disk use.
    with gr.Blocks(
        title="FIRF sentiment demo", analytics_enabled=False, delete_cache=(3600, 3600)
    ) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                video = gr.Video(
                    sources=["webcam", "upload"],
                    include_audio=True,
                    label="Video: face (its sound is used as audio)",
                )
                audio = gr.Audio(
                    sources=["microphone", "upload"], type="filepath", label="Audio: speech"
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
                gauge = gr.HTML(score_placeholder(), elem_id="score")
                source = gr.Markdown(elem_id="text-source")
                coverage = gr.HTML(elem_id="coverage")
                chart = gr.Plot(show_label=False)
                face = gr.Image(
                    label="Face landmarks (middle frame with a face)",
                    interactive=False,
                    height=260,
                    visible=False,
                )
                with gr.Accordion("Full result (JSON)", open=False):
                    result = gr.JSON(label="prediction")
        gr.Examples(
            [e.row() for e in examples],
            inputs=[video, audio, text, modalities, intra_rate],
            example_labels=[e.label for e in examples],
            label="Examples (generated offline at start-up)",
        )
        run.click(
            analyzer.analyze_view,
            inputs=[video, audio, text, modalities, intra_rate],
            outputs=[gauge, source, coverage, chart, face, result],
            api_visibility="private",
        )
        # API-only endpoint with exactly the documented signature (no trigger on the page).
        gr.on(
            triggers=[],
            fn=analyzer.analyze,
            inputs=[video, audio, text, modalities],
            outputs=result,
            api_name="analyze",
        )
    return demo


def score_placeholder() -> str:
    return '<div class="firf-gauge"><i>The score appears here after you press Analyze.</i></div>'
