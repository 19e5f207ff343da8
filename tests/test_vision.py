"""Face Mesh vision features on real images and encoded clips (MediaPipe runs here, no mocks)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from firf.errors import InputError
from firf.extract.decode import load_video
from firf.extract.vision import (
    NUM_LANDMARKS,
    VISION_DIM,
    FaceMeshVision,
    draw_landmarks,
    prepare_small_face,
    region_points,
)
from tools import media

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vision() -> FaceMeshVision:
    return FaceMeshVision(fps=5)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return media.face_image()


def similarity_warp(image: np.ndarray, angle: float, scale: float, shift: tuple) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    matrix[:, 2] += shift
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def centred_only(landmarks: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Translation and scale removed but not rotation: the baseline pose normalisation beats."""
    points = landmarks * (frame.shape[1], frame.shape[0], frame.shape[1])
    points -= points.mean(0)
    return (points / np.sqrt((points**2).sum(1).mean())).reshape(-1)


def test_face_clip_has_face_in_most_frames(vision, tmp_path):
    clip = load_video(media.face_clip(tmp_path / "face.mp4", seconds=2.0), fps=vision.fps)
    out = vision(clip.frames)
    assert len(clip.frames) == 10
    assert out.features.shape == (10, VISION_DIM) and out.features.dtype == np.float32
    assert out.face_share >= 0.8
    found = out.mask == 1
    assert np.abs(out.features[found]).sum(1).min() > 0
    assert not out.features[~found].any()
    assert [points is not None for points in out.landmarks] == found.tolist()
    assert out.landmarks[int(np.argmax(found))].shape == (NUM_LANDMARKS, 3)


def test_pose_is_normalised_away(vision, face):
    views = [
        face,
        similarity_warp(face, 15, 0.8, (30, -20)),
        similarity_warp(face, -20, 1.2, (-40, 40)),
        np.ascontiguousarray(face[:, 60:460]),  # another aspect ratio
    ]
    out = vision(views)
    assert out.mask.tolist() == [1, 1, 1, 1]
    reference = out.features[0]
    for i in range(1, len(views)):
        normalised = np.abs(out.features[i] - reference).mean()
        baseline = np.abs(
            centred_only(out.landmarks[i], views[i]) - centred_only(out.landmarks[0], views[0])
        ).mean()
        assert normalised < 0.03
        if i < 3:  # rotated views: rotation left in would change the features far more
            assert baseline > 2 * normalised


def test_non_rigid_change_survives_normalisation(vision, face):
    """Stretching the lower face (a stand-in for a dropped jaw) must change the features: pose
    normalisation may not erase the geometry that carries expressions."""
    top, bottom = 125, 180  # rows from the nose tip to the chin of the astronaut
    stretched = np.concatenate([face[:top], cv2.resize(face[top:bottom], (512, 80)), face[bottom:]])
    tilted = similarity_warp(face, 12, 0.9, (10, 10))
    out = vision([face, tilted, stretched[:512]])
    points = out.features.reshape(3, NUM_LANDMARKS, 2)
    chin_drop = points[:, 152, 1] - points[0, 152, 1]  # y in inter-eye distances
    assert chin_drop[2] > 0.2 and abs(chin_drop[1]) < 0.1
    pose_change = np.abs(out.features[1] - out.features[0]).mean()
    shape_change = np.abs(out.features[2] - out.features[0]).mean()
    assert shape_change > 2.5 * pose_change


def test_blank_clip_has_no_face(vision, tmp_path):
    clip = load_video(media.blank_clip(tmp_path / "blank.mp4"), fps=vision.fps)
    out = vision(clip.frames)
    assert len(clip.frames) > 0
    assert out.face_share == 0.0
    assert not out.mask.any() and not out.features.any()
    assert out.landmarks == [None] * len(clip.frames)


def test_no_frames_gives_empty_features(vision):
    out = vision([])
    assert out.features.shape == (0, VISION_DIM) and out.face_share == 0.0


def test_small_grayscale_crop_is_detected_after_preparation(vision, face):
    crop = cv2.cvtColor(face[60:200, 160:290], cv2.COLOR_RGB2GRAY)
    small = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
    prepared = prepare_small_face(small)
    assert prepared.shape == (288, 288, 3) and prepared.dtype == np.uint8
    assert vision([prepared]).mask[0] == 1


def test_draw_landmarks_marks_the_face_and_leaves_input_alone(vision, face):
    points = vision.landmarks(face)
    before = face.copy()
    drawn = draw_landmarks(face, points)
    assert drawn.shape == face.shape
    assert np.array_equal(face, before)
    changed = np.argwhere((drawn != face).any(2))
    height, width = face.shape[:2]
    low, high = points[:, :2].min(0) * (width, height), points[:, :2].max(0) * (width, height)
    assert len(changed) > 100
    assert ((changed[:, ::-1] >= low - 3) & (changed[:, ::-1] <= high + 3)).all()
    assert np.array_equal(draw_landmarks(face, None), face)


def test_bad_frames_raise_input_error(vision):
    with pytest.raises(InputError, match="uint8"):
        vision([np.zeros((64, 64, 3), np.float32)])
    with pytest.raises(InputError, match="shape"):
        vision([np.zeros((64, 64, 2), np.uint8)])


def test_signature_describes_the_features_it_makes(vision, face):
    assert vision.signature["dim"] == vision([face]).features.shape[1]
    assert vision.signature["fps"] == vision.fps


def test_expressive_regions_keep_the_mouth_eyes_and_brows_of_the_same_geometry(vision, face):
    """The expressive recipe is the full geometry's lips, eyes, brows and irises, nothing else,
    and says so in its signature (a checkpoint trained on it refuses the full features)."""
    expressive = FaceMeshVision(fps=5, regions="expressive")
    points = region_points("expressive")
    assert len(points) == 100 and {61, 291, 0, 17}.issubset(points)  # mouth corners, lip middles
    assert not {1, 4, 50, 280}.intersection(points)  # nose tip and the cheeks are left out
    full, kept = vision([face]).features[0], expressive([face]).features[0]
    assert kept.shape == (200,) and expressive.signature["dim"] == 200
    np.testing.assert_allclose(kept, full.reshape(NUM_LANDMARKS, 2)[points].reshape(-1))
    assert expressive.signature["regions"] == "expressive" and "regions" not in vision.signature
    with pytest.raises(InputError, match="unknown face regions"):
        FaceMeshVision(regions="cheeks")


def test_a_checkpoints_recorded_face_regions_rebuild_the_same_extractor():
    from firf.extractors import Extractors, plain

    recorded = Extractors(face_regions="expressive").signatures()
    assert recorded["vision"]["regions"] == "expressive"
    assert plain(Extractors.from_signatures(recorded, "cpu").vision.signature) == recorded["vision"]
    del recorded["vision"]["regions"]  # as in checkpoints made before the option existed
    recorded["vision"]["dim"] = 956
    assert Extractors.from_signatures(recorded, "cpu").vision.signature == recorded["vision"]
