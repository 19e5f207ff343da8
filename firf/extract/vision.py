"""Face geometry per video frame: MediaPipe Face Mesh landmarks with the head pose taken out.

Every frame becomes the 478 refined Face Mesh landmarks (468 mesh points + 10 iris points) in a
face-fixed frame of reference, their two in-plane coordinates flattened to
``VISION_DIM = 478 * 2 = 956`` floats:

- coordinates are first made isotropic (MediaPipe normalises x by the width, y by the height and
  z roughly like x), so non-square frames do not stretch the face;
- the origin is the midpoint between the eye centres, the x axis runs from the subject's right
  eye to the left eye, the y axis from the nasion (landmark 168) down to the nose base
  (landmark 2), made orthogonal to x, and z = x × y points away from the camera;
- lengths are divided by the distance between the eye centres;
- the depth coordinate is used for the rotation, then dropped: Face Mesh guesses depth from one
  image, and on real cameras the guess is what varies most. A crying face from a real clip
  deviates from CK+'s faces mostly there (38 % of its deviation), and linear probes trained on
  CK+ read it correctly more often without it (``benchmarks/demo_checkpoint.md``, "Faces from
  real cameras").

``regions="expressive"`` keeps only the lips, eyes, eyebrows and irises (100 points, 200
floats). The cheeks, nose and face outline move with the cheek raiser (FACS AU6), which a
Duchenne smile and crying share: a reader trained on CK+, whose posed negative faces rarely
raise the cheeks, learns "raised cheeks = happy" and reads a crying face as happy
(``benchmarks/demo_checkpoint.md``, "Why the crying face reads happy: the cheeks"). What tells
the two apart is the mouth (corners pulled up or down) and the brows.

The anchors are the eye corners and the nasal ridge because they barely move with facial
expressions: translation, scale and head rotation are removed while mouth, brow, lid and cheek
movements (what carries the expression) stay in the features. A reference-free frame is used
because the mediapipe wheel does not ship its canonical face model.

Frames without a face keep their place in the sequence with zero features and mask 0.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from firf.errors import InputError
from firf.extract.decode import VIDEO_FPS

log = logging.getLogger(__name__)

NUM_LANDMARKS = 478
VISION_DIM = NUM_LANDMARKS * 2  # regions="all"
REGIONS = ("all", "expressive")
RECIPE_VERSION = 2  # bump when the feature recipe changes: checkpoints record it (2: no depth)

_RIGHT_EYE = (33, 133)  # subject's right eye: outer and inner corner
_LEFT_EYE = (263, 362)
_NASION = 168
_NOSE_BASE = 2


def region_points(regions: str) -> np.ndarray:
    """Indices of the landmarks ``regions`` keeps, ascending (Face Mesh's own region sets)."""
    if regions == "all":
        return np.arange(NUM_LANDMARKS)
    if regions != "expressive":
        raise InputError(f"unknown face regions {regions!r}; use one of {', '.join(REGIONS)}")
    from mediapipe.python.solutions import face_mesh_connections as sets

    edges = (
        sets.FACEMESH_LIPS
        | sets.FACEMESH_LEFT_EYE
        | sets.FACEMESH_RIGHT_EYE
        | sets.FACEMESH_LEFT_EYEBROW
        | sets.FACEMESH_RIGHT_EYEBROW
        | sets.FACEMESH_IRISES
    )
    return np.array(sorted({i for edge in edges for i in edge}))


@dataclass
class VisionFeatures:
    features: np.ndarray  # (N, 2 * kept landmarks) float32, zero where no face
    mask: np.ndarray  # (N,) float32, 1 = face found
    face_share: float  # share of frames with a face (0 for an empty input)
    landmarks: list[np.ndarray | None]  # per frame (478, 3) normalised image coords, for drawing


def normalize_pose(points: np.ndarray) -> np.ndarray:
    """(478, 3) isotropic landmark coordinates -> the same points in the face-fixed frame."""
    right_eye = points[list(_RIGHT_EYE)].mean(0)
    left_eye = points[list(_LEFT_EYE)].mean(0)
    across = left_eye - right_eye
    scale = float(np.linalg.norm(across))
    if scale < 1e-6:
        raise ValueError("degenerate landmarks: both eyes at the same place")
    x_axis = across / scale
    down = points[_NOSE_BASE] - points[_NASION]
    down = down - (down @ x_axis) * x_axis
    y_axis = down / max(float(np.linalg.norm(down)), 1e-6)
    rotation = np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)])
    return (points - (right_eye + left_eye) / 2) @ rotation.T / scale


def prepare_small_face(image: np.ndarray, size: int = 192, pad: int = 48) -> np.ndarray:
    """Make a small face crop (e.g. 48x48 CK+) detectable: upscale to ``size`` px, pad borders.

    Face Mesh's detector misses faces that fill the whole image or are tiny; upscaling and
    padding with replicated borders (no hard edge for the detector to latch onto) fixes both.
    Grayscale input is returned as RGB.
    """
    image = _as_rgb(image)
    height, width = image.shape[:2]
    factor = size / max(height, width)
    resized = cv2.resize(
        image,
        (max(1, round(width * factor)), max(1, round(height * factor))),
        interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA,
    )
    return cv2.copyMakeBorder(resized, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def draw_landmarks(frame: np.ndarray, landmarks: np.ndarray | None) -> np.ndarray:
    """A copy of ``frame`` with the face contours and irises drawn (unchanged when no face)."""
    from mediapipe.python.solutions.face_mesh import FACEMESH_CONTOURS, FACEMESH_IRISES

    canvas = _as_rgb(frame).copy()
    if landmarks is None:
        return canvas
    height, width = canvas.shape[:2]
    pixels = np.round(landmarks[:, :2] * (width, height)).astype(int)
    thickness = max(1, round(min(height, width) / 300))
    for connections, color in ((FACEMESH_CONTOURS, (0, 220, 120)), (FACEMESH_IRISES, (255, 80, 0))):
        for start, end in connections:
            cv2.line(canvas, tuple(pixels[start]), tuple(pixels[end]), color, thickness)
    return canvas


class FaceMeshVision:
    """Pose-normalised Face Mesh geometry for a sequence of RGB frames.

    Each frame is processed on its own (``static_image_mode``), so a frame's features never
    depend on what the instance saw before: the corpus extractor and the app agree exactly.
    One MediaPipe graph per instance, guarded by a lock, makes an instance safe to share.
    """

    def __init__(
        self,
        fps: float = VIDEO_FPS,
        max_faces: int = 1,
        min_confidence: float = 0.5,
        regions: str = "all",
    ):
        self.points = region_points(regions)
        log.info("loading MediaPipe Face Mesh")
        from mediapipe.python.solutions.face_mesh import FaceMesh

        self.fps = fps
        self.regions = regions
        self._mesh = FaceMesh(
            static_image_mode=True,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
        )
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return 2 * len(self.points)

    @property
    def signature(self) -> dict:
        signature = {
            "name": "mediapipe-facemesh-pose-normalized",
            "recipe": RECIPE_VERSION,
            "dim": self.dim,
            "fps": self.fps,
        }
        if self.regions != "all":  # checkpoints made before regions existed record none
            signature["regions"] = self.regions
        return signature

    def landmarks(self, frame: np.ndarray) -> np.ndarray | None:
        """(478, 3) normalised image coordinates of the first face, or None."""
        rgb = np.ascontiguousarray(_as_rgb(frame))
        with self._lock:
            result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        face = result.multi_face_landmarks[0].landmark
        return np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32)

    def __call__(self, frames: Sequence[np.ndarray] | np.ndarray) -> VisionFeatures:
        count = len(frames)
        features = np.zeros((count, self.dim), dtype=np.float32)
        mask = np.zeros(count, dtype=np.float32)
        found: list[np.ndarray | None] = []
        for i, frame in enumerate(frames):
            points = self.landmarks(frame)
            found.append(points)
            if points is None:
                continue
            height, width = frame.shape[:2]
            isotropic = points.astype(np.float64) * (width, height, width)
            try:
                features[i] = normalize_pose(isotropic)[self.points, :2].reshape(-1)
            except ValueError:
                found[-1] = None
                continue
            mask[i] = 1.0
        share = float(mask.mean()) if count else 0.0
        return VisionFeatures(features=features, mask=mask, face_share=share, landmarks=found)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise InputError(f"frames must be 8-bit images (uint8), got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return image[:, :, :3]
    raise InputError(f"a frame must be HxW (gray), HxWx3 (RGB) or HxWx4, got shape {image.shape}")
