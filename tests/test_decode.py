"""Decoding real encoded media (espeak-ng speech, PyAV-written clips) into extractor inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from firf.errors import InputError
from firf.extract.decode import SAMPLE_RATE, load_audio, load_video
from tools import media


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """A 22.05 kHz espeak-ng sentence (about 3 s) and its samples."""
    path = media.speech_wav(
        tmp_path_factory.mktemp("speech") / "speech.wav", "Decoding works on every format."
    )
    return path, media.read_wav(path)


def _similar(a: np.ndarray, b: np.ndarray) -> float:
    """Peak normalised cross-correlation: 1.0 for the same sound, whatever the codec delay."""
    n = min(a.size, b.size)
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    corr = np.fft.irfft(np.fft.rfft(a, 2 * n) * np.conj(np.fft.rfft(b, 2 * n)))
    return float(np.abs(corr).max() / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".m4a", ".ogg", ".webm"])
def test_audio_files_decode_to_16k_mono(speech, tmp_path, suffix):
    path, (rate, pcm) = speech
    reference = load_audio((rate, pcm))
    encoded = media.transcode_audio(path, tmp_path / f"speech{suffix}")
    audio = load_audio(encoded)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - reference.size) < 0.1 * SAMPLE_RATE  # codec priming only
    assert _similar(audio, reference) > 0.9


def test_file_and_array_give_the_same_samples(speech):
    path, (rate, pcm) = speech
    from_file = load_audio(path)
    np.testing.assert_allclose(from_file, load_audio((rate, pcm)), atol=1e-6)
    assert abs(from_file.size - pcm.size * SAMPLE_RATE / rate) <= 1
    np.testing.assert_allclose(load_audio(path.read_bytes()), from_file, atol=1e-6)


def test_array_layouts_as_gradio_and_torchaudio_give_them():
    tone = media.tone(0.5, sample_rate=SAMPLE_RATE)
    int16 = (tone * 32767).astype(np.int16)
    np.testing.assert_allclose(load_audio((SAMPLE_RATE, int16)), tone, atol=1e-4)
    int32 = int16.astype(np.int32) << 16
    np.testing.assert_allclose(load_audio((SAMPLE_RATE, int32)), tone, atol=1e-4)
    stereo = np.stack([int16, int16], axis=1)  # (n, 2) like Gradio's microphone
    np.testing.assert_allclose(load_audio((SAMPLE_RATE, stereo)), tone, atol=1e-4)
    np.testing.assert_allclose(load_audio((SAMPLE_RATE, stereo.T)), tone, atol=1e-4)
    # A bare array is taken to be 16 kHz already and returned as is.
    np.testing.assert_array_equal(load_audio(tone.astype(np.float64)), tone)


def test_audio_is_resampled_to_16k():
    audio = load_audio((48_000, media.tone(1.0, freq=1000.0, sample_rate=48_000)))
    assert audio.size == SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / audio.size - 1000.0) < 2.0


def test_long_audio_is_cut_with_a_warning(speech):
    path, _ = speech
    with pytest.warns(UserWarning, match="only the first 1 s"):
        audio = load_audio(path, max_seconds=1.0)
    assert audio.size == SAMPLE_RATE
    with pytest.warns(UserWarning, match="only the first 60 s"):
        audio = load_audio(np.zeros(61 * SAMPLE_RATE, np.float32))
    assert audio.size == 60 * SAMPLE_RATE
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio(np.zeros(SAMPLE_RATE, np.float32))  # short input: no warning


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/no/such/recording.wav", "no such file"),
        ("", "no such file"),
        ({"audio": 1}, "got dict"),
        (np.zeros(0, np.float32), "empty"),
        ((SAMPLE_RATE, np.zeros((0, 2), np.int16)), "empty"),
        (np.array([0.1, np.nan, 0.2], np.float32), "NaN or infinite"),
        ((SAMPLE_RATE, np.array([0.0, np.inf])), "NaN or infinite"),
        ((0, np.zeros(100, np.float32)), "positive integer"),
        (("16000", np.zeros(100, np.float32)), "positive integer"),
        ((SAMPLE_RATE, np.array(["a", "b"])), "must be numbers"),
        ((SAMPLE_RATE, np.zeros((2, 2, 2))), "shaped"),
        ((SAMPLE_RATE, "samples"), "must be an array"),
        (b"not audio at all", "could not read"),
    ],
)
def test_bad_audio_input_is_an_input_error(source, message):
    with pytest.raises(InputError, match=message):
        load_audio(source)


def test_unreadable_audio_files_are_input_errors(tmp_path, speech):
    path, _ = speech
    with pytest.raises(InputError, match="could not read"):
        load_audio(media.corrupt_file(tmp_path / "broken.wav", source=path))
    with pytest.raises(InputError, match="no such file"):
        load_audio(tmp_path)  # a directory
    with pytest.raises(InputError, match="no audio track"):
        load_audio(media.blank_clip(tmp_path / "silent_film.mp4"))


@pytest.mark.parametrize("container", ["mp4", "webm"])
def test_video_frames_and_sound_track(speech, tmp_path, container):
    path, _ = speech
    clip_path = media.face_clip(tmp_path / f"face.{container}", 2.0, 10, path, container)
    clip = load_video(clip_path, fps=10)
    assert len(clip.frames) == 20 and clip.duration == pytest.approx(2.0)
    np.testing.assert_allclose(clip.timestamps, np.arange(20) / 10)
    assert all(f.shape == (256, 256, 3) and f.dtype == np.uint8 for f in clip.frames)
    assert clip.audio is not None and _similar(clip.audio, load_audio(path)) > 0.9


def test_frames_are_sampled_by_time(tmp_path):
    clip_path = media.face_clip(tmp_path / "face.mp4", seconds=2.0, fps=10)
    source = load_video(clip_path, fps=10).frames
    assert all(
        np.abs(a.astype(int) - b).mean() > 0.5 for a, b in zip(source[:-1], source[1:], strict=True)
    )
    doubled = load_video(clip_path, fps=20)  # every source frame shown for two samples
    assert len(doubled.frames) == 40
    for i, frame in enumerate(doubled.frames):
        np.testing.assert_array_equal(frame, source[i // 2])
    halved = load_video(clip_path, fps=5)
    assert len(halved.frames) == 10
    for i, frame in enumerate(halved.frames):
        np.testing.assert_array_equal(frame, source[2 * i])


def test_video_without_sound_long_video_and_downscaling(tmp_path):
    clip_path = media.blank_clip(tmp_path / "blank.mp4", seconds=2.0, size=320)
    assert load_video(clip_path).audio is None
    with pytest.warns(UserWarning, match="only the first 1 s"):
        clip = load_video(clip_path, fps=10, max_seconds=1.0)
    assert len(clip.frames) == 10 and clip.duration == 1.0
    assert load_video(clip_path, max_side=160).frames[0].shape == (160, 160, 3)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotated_phone_video_is_shown_upright(tmp_path, rotation):
    upright = load_video(media.face_clip(tmp_path / "up.mp4", 1.0, size=128)).frames
    turned = load_video(media.face_clip(tmp_path / "turned.mp4", 1.0, size=128, rotation=rotation))
    for a, b in zip(upright, turned.frames, strict=True):
        assert np.abs(a.astype(int) - b).mean() < 8  # codec noise only


def test_bad_video_input_is_an_input_error(tmp_path, speech):
    path, _ = speech
    with pytest.raises(InputError, match="no video track"):
        load_video(path)
    with pytest.raises(InputError, match="could not read"):
        load_video(media.corrupt_file(tmp_path / "broken.mp4"))
    with pytest.raises(InputError, match="no such file"):
        load_video(tmp_path / "missing.webm")
    with pytest.raises(InputError, match="file path"):
        load_video(np.zeros((4, 8, 8, 3), np.uint8))
