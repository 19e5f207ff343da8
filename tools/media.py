"""Small, offline generators of real media: speech, tones, silence, face videos, broken files.

The tests, the benchmarks and the demo's examples share these, so every extractor is exercised
on genuine encoded media (espeak-ng speech, H.264/AAC or VP9/Opus video written by PyAV) instead
of mocks. Each generator takes well under a second for its default size.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tools import espeak

SAMPLE_RATE = 16_000

# container -> (video codec, audio codec, pixel format)
_CODECS: dict[str, tuple[str, str, str]] = {
    "mp4": ("libx264", "aac", "yuv420p"),
    "webm": ("libvpx-vp9", "libopus", "yuv420p"),
}
# audio-only file extension -> (container format, codec)
_AUDIO_CODECS: dict[str, tuple[str, str]] = {
    ".wav": ("wav", "pcm_s16le"),
    ".mp3": ("mp3", "libmp3lame"),
    ".m4a": ("mp4", "aac"),
    ".ogg": ("ogg", "libopus"),
    ".webm": ("webm", "libopus"),
}


def speech_wav(path: str | Path, text: str, voice: str = "en", rate: int = 150) -> Path:
    """Synthesize `text` with espeak-ng (22.05 kHz mono wav); `rate` is words per minute.

    Raises an error (not a skip) when espeak-ng is missing: speech tests must run.
    """
    return espeak.speak_to_wav(text, path, voice=voice, rate=rate)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write float samples in [-1, 1] as a 16-bit mono (1-D) or multichannel (n, ch) wav."""
    path = Path(path)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return path


def read_wav(path: str | Path) -> tuple[int, np.ndarray]:
    """(rate, int16 samples) of a 16-bit wav: (n,) mono or (n, channels)."""
    with wave.open(str(path), "rb") as src:
        rate, channels = src.getframerate(), src.getnchannels()
        pcm = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2")
    return rate, pcm if channels == 1 else pcm.reshape(-1, channels)


def tone(
    seconds: float = 1.0, freq: float = 440.0, sample_rate: int = SAMPLE_RATE, amplitude=0.3
) -> np.ndarray:
    """A float32 sine wave."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def tone_wav(
    path: str | Path, seconds: float = 1.0, freq: float = 440.0, sample_rate: int = SAMPLE_RATE
) -> Path:
    return write_wav(path, tone(seconds, freq, sample_rate), sample_rate)


def silence_wav(path: str | Path, seconds: float = 1.0, sample_rate: int = SAMPLE_RATE) -> Path:
    return write_wav(path, np.zeros(int(round(seconds * sample_rate)), np.float32), sample_rate)


def transcode_audio(src_wav: str | Path, dst: str | Path) -> Path:
    """Re-encode a wav as .mp3, .m4a (AAC), .ogg/.webm (Opus) or .wav, chosen by `dst`'s suffix."""
    dst = Path(dst)
    fmt, codec = _AUDIO_CODECS[dst.suffix]
    rate, pcm = read_wav(src_wav)
    with av.open(str(dst), "w", format=fmt) as out:
        _mux_audio(out, codec, rate, pcm)
    return dst


def face_image() -> np.ndarray:
    """The astronaut photo shipped with scikit-image (public domain, one frontal face), RGB uint8."""
    from skimage import data

    return data.astronaut()


def face_clip(
    path: str | Path,
    seconds: float = 2.0,
    fps: int = 10,
    audio_wav: str | Path | None = None,
    container: str = "mp4",
    size: int = 256,
    rotation: int = 0,
) -> Path:
    """A video of the astronaut's face drifting and zooming slightly, optionally with a sound track.

    The motion makes every frame different, so frame sampling and tracking are really exercised.
    `rotation` (degrees counter-clockwise, a multiple of 90) stores the frames sideways with a
    display rotation, as phones do; a correct reader shows the face upright again.
    """
    image = face_image()
    frames = [_moving_view(image, i / fps, size) for i in range(int(round(seconds * fps)))]
    frames = [np.ascontiguousarray(np.rot90(f, -rotation // 90)) for f in frames]
    return write_clip(path, frames, fps, audio_wav, container, rotation)


def blank_clip(
    path: str | Path,
    seconds: float = 1.0,
    fps: int = 10,
    audio_wav: str | Path | None = None,
    container: str = "mp4",
    size: int = 256,
) -> Path:
    """A video with no face in it (scikit-image's coffee cup, slowly panning)."""
    from skimage import data

    image = data.coffee()
    frames = [_moving_view(image, i / fps, size) for i in range(int(round(seconds * fps)))]
    return write_clip(path, frames, fps, audio_wav, container)


def face_in_and_out_clip(
    path: str | Path,
    seconds: float,
    face_shown: Callable[[float], bool],
    fps: int = 5,
    audio_wav: str | Path | None = None,
    size: int = 256,
) -> Path:
    """The drifting astronaut while ``face_shown(t)``, the faceless coffee cup otherwise.

    A long recording where the speaker now and then leaves the picture.
    """
    from skimage import data

    face, cup = face_image(), data.coffee()
    frames = [
        _moving_view(face if face_shown(i / fps) else cup, i / fps, size)
        for i in range(int(round(seconds * fps)))
    ]
    return write_clip(path, frames, fps, audio_wav, "mp4")


def one_frame_video(path: str | Path, seconds: int) -> Path:
    """An H.264 mp4 with one picture whose frame period is `seconds` (1/seconds fps): a clip
    that declares a long duration while holding almost nothing to decode."""
    image = np.ascontiguousarray(face_image()[::2, ::2])
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(1, seconds))
        stream.width, stream.height = image.shape[1], image.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = 0, Fraction(seconds, 1)
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return Path(path)


def corrupt_file(path: str | Path, source: str | Path | None = None) -> Path:
    """A file that no decoder can read: deterministic junk bytes behind a plausible name.

    With `source`, the junk replaces the start of a copy of that file (header destroyed, the rest
    intact), which is how half-uploaded or damaged media usually look.
    """
    path = Path(path)
    junk = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    tail = Path(source).read_bytes()[len(junk) :] if source is not None else b""
    path.write_bytes(junk + tail)
    return path


def _moving_view(image: np.ndarray, t: float, size: int) -> np.ndarray:
    """A `size`×`size` nearest-neighbour view of `image` that drifts and zooms with time `t` (s)."""
    h, w = image.shape[:2]
    zoom = 1.0 + 0.06 * np.sin(2 * np.pi * 0.5 * t)
    cy = h / 2 + 0.03 * h * np.sin(2 * np.pi * 0.3 * t)
    cx = w / 2 + 0.03 * w * np.cos(2 * np.pi * 0.3 * t)
    span = min(h, w) / zoom
    offsets = (np.arange(size) + 0.5) / size - 0.5
    rows = np.clip((cy + offsets * span).astype(int), 0, h - 1)
    cols = np.clip((cx + offsets * span).astype(int), 0, w - 1)
    return np.ascontiguousarray(image[rows[:, None], cols[None, :]])


def write_clip(
    path: str | Path,
    frames: list[np.ndarray],
    fps: int,
    audio_wav: str | Path | None,
    container: str,
    rotation: int = 0,
) -> Path:
    """An mp4 (H.264/AAC) or webm (VP9/Opus) of RGB `frames` at `fps`, with `audio_wav`'s sound."""
    path = Path(path)
    video_codec, audio_codec, pix_fmt = _CODECS[container]
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(video_codec, rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pix_fmt
        if rotation:
            stream.set_display_rotation(rotation)
        if video_codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        else:
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        audio = None
        if audio_wav is not None:
            audio = out.add_stream(audio_codec, rate=48_000 if audio_codec == "libopus" else None)
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if audio is not None:
            rate, pcm = read_wav(audio_wav)
            _encode_audio(out, audio, rate, pcm)
    return path


def _mux_audio(out: av.container.OutputContainer, codec: str, rate: int, pcm: np.ndarray) -> None:
    stream = out.add_stream(codec, rate=48_000 if codec == "libopus" else rate)
    _encode_audio(out, stream, rate, pcm)


def _encode_audio(
    out: av.container.OutputContainer, stream: av.audio.AudioStream, rate: int, pcm: np.ndarray
) -> None:
    """Encode int16 `pcm` at `rate` into `stream`, converting format, layout and frame size."""
    layout = "mono" if pcm.ndim == 1 else "stereo"
    source = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
    source.sample_rate = rate
    frame_size = stream.codec_context.frame_size or 1024
    resampler = av.AudioResampler(
        format=stream.codec_context.format,
        layout=stream.codec_context.layout,
        rate=stream.codec_context.sample_rate,
        frame_size=frame_size,
    )
    for frame in [*resampler.resample(source), *resampler.resample(None)]:
        out.mux(stream.encode(frame))
    out.mux(stream.encode())
