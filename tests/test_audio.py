"""The offline Whisper weights converter and the real-length Whisper audio extractor.

The extractor tests run the real Whisper base model (converted from the packaged CTranslate2
weights) on espeak-ng speech; they are marked slow but run everywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct

import numpy as np
import pytest
import torch
import whisper

from firf.errors import InputError
from firf.extract import whisper_weights
from firf.extract.audio import WhisperAudio
from firf.extract.decode import SAMPLE_RATE, load_audio
from tools import media


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on a shared, busy CI machine two threads run several times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ct2_string(text: str) -> bytes:
    return struct.pack("<H", len(text) + 1) + text.encode() + b"\0"


def _ct2_bytes(variables: dict[str, np.ndarray], aliases: dict[str, str]) -> bytes:
    """A model.bin written by the format's description, independently of the reader."""
    ids = {
        np.dtype("float32"): 0,
        np.dtype("int8"): 1,
        np.dtype("int16"): 2,
        np.dtype("float16"): 4,
    }
    out = struct.pack("<I", 6) + _ct2_string("TinySpec") + struct.pack("<II", 1, len(variables))
    for name, value in variables.items():
        out += _ct2_string(name) + struct.pack("<B", value.ndim)
        out += b"".join(struct.pack("<I", d) for d in value.shape)
        out += struct.pack("<BI", ids[value.dtype], value.nbytes) + value.tobytes()
    out += struct.pack("<I", len(aliases))
    for alias, target in aliases.items():
        out += _ct2_string(alias) + _ct2_string(target)
    return out


def test_ct2_reader_follows_the_binary_layout():
    weight = np.arange(6, dtype=np.float16).reshape(2, 3)
    data = _ct2_bytes(
        {"a/weight": weight, "a/num_heads": np.array(8, np.int16), "b/flag": np.array(1, np.int8)},
        {"c/weight": "a/weight"},
    )
    spec, variables, aliases = whisper_weights.read_ct2_model(data)
    assert spec == "TinySpec" and aliases == {"c/weight": "a/weight"}
    np.testing.assert_array_equal(variables["a/weight"].numpy(), weight)
    assert variables["a/weight"].dtype == torch.float16
    assert int(variables["a/num_heads"]) == 8 and int(variables["b/flag"]) == 1
    with pytest.raises(ValueError, match="truncated"):
        whisper_weights.read_ct2_model(data[:-10])
    with pytest.raises(ValueError, match="version 5"):
        whisper_weights.read_ct2_model(struct.pack("<I", 5) + data[4:])


@pytest.fixture(scope="module")
def packaged():
    """The packaged CT2 Whisper base: its bytes, read once."""
    data = whisper_weights._packaged_model_bin()
    return data, whisper_weights.read_ct2_model(data)


def test_packaged_weights_match_their_pin(packaged):
    data, (spec, variables, _) = packaged
    assert hashlib.sha256(data).hexdigest() == whisper_weights.CT2_BASE_SHA256
    assert spec == "WhisperSpec" and len(variables) == 212


def test_conversion_fills_every_whisper_tensor(packaged):
    _, (_, variables, aliases) = packaged
    checkpoint = whisper_weights.ct2_to_openai(variables, aliases)
    assert checkpoint["dims"] == {
        "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 512, "n_audio_head": 8,
        "n_audio_layer": 6, "n_vocab": 51865, "n_text_ctx": 448, "n_text_state": 512,
        "n_text_head": 8, "n_text_layer": 6,
    }  # fmt: skip
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    assert whisper_weights.tensor_digest(checkpoint) == whisper_weights.BASE_TENSORS_SHA256
    # openai-whisper's key projections have no bias; CT2's fused q|k|v carries a zero block.
    assert "encoder.blocks.0.attn.key.bias" not in checkpoint["model_state_dict"]


def test_conversion_refuses_what_whisper_cannot_compute(packaged):
    _, (_, variables, aliases) = packaged
    biased = dict(variables)
    fused = variables["encoder/layer_0/self_attention/linear_0/bias"].clone()
    fused[600] = 1.0  # inside the key block
    biased["encoder/layer_0/self_attention/linear_0/bias"] = fused
    with pytest.raises(ValueError, match="key projection has no bias"):
        whisper_weights.ct2_to_openai(biased, aliases)
    missing = {k: v for k, v in variables.items() if k != "decoder/layer_5/ffn/linear_1/bias"}
    with pytest.raises(ValueError, match="no tensor decoder/layer_5/ffn/linear_1/bias"):
        whisper_weights.ct2_to_openai(missing, aliases)
    relu = {**variables, "decoder/activation": torch.tensor(0, dtype=torch.int8)}
    with pytest.raises(ValueError, match="activation"):
        whisper_weights.ct2_to_openai(relu, aliases)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh user cache holding the converted checkpoint, for this module's tests."""
    with pytest.MonkeyPatch.context() as patch:
        root = tmp_path_factory.mktemp("firf-cache")
        patch.setenv("FIRF_CACHE", str(root))
        patch.delenv("FIRF_ALLOW_DOWNLOAD", raising=False)
        whisper_weights.ensure_whisper_checkpoint("base")
        yield root


def test_checkpoint_is_written_once_and_rebuilt_when_damaged(cache):
    path = whisper_weights.ensure_whisper_checkpoint("base")
    assert path.parent == cache / "whisper" and path.is_file()
    written = path.stat().st_mtime_ns
    assert whisper_weights.ensure_whisper_checkpoint("base").stat().st_mtime_ns == written
    assert not list(path.parent.glob("*.tmp"))
    path.write_bytes(path.read_bytes()[: 1 << 20])  # a half-written or damaged cache
    with pytest.warns(UserWarning, match="damaged"):
        whisper_weights.ensure_whisper_checkpoint("base")
    checkpoint = torch.load(path, weights_only=True)
    assert whisper_weights.tensor_digest(checkpoint) == whisper_weights.BASE_TENSORS_SHA256


def test_other_models_need_permission_or_a_path(cache, tmp_path):
    with pytest.raises(InputError, match="FIRF_ALLOW_DOWNLOAD=1"):
        whisper_weights.ensure_whisper_checkpoint("small")
    with pytest.raises(InputError, match="unknown Whisper model 'huge'"):
        whisper_weights.ensure_whisper_checkpoint("huge")
    not_a_checkpoint = tmp_path / "model.pt"
    not_a_checkpoint.write_bytes(b"junk")
    with pytest.raises(InputError, match="not an openai-whisper checkpoint"):
        whisper_weights.load_whisper(str(not_a_checkpoint))


# --- the extractor, on real speech -------------------------------------------------------------

SENTENCES = {
    "weather": "The weather today is absolutely wonderful and I feel great.",
    "movie": "I really hated that movie, it was boring and far too long.",
    "report": "Please send the report to my office before noon on Friday.",
    "love": "I love it.",
}


@pytest.fixture(scope="module")
def extractor(cache):
    torch.manual_seed(0)
    return WhisperAudio("base", device="cpu")


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    folder = tmp_path_factory.mktemp("speech")
    return {k: load_audio(media.speech_wav(folder / f"{k}.wav", s)) for k, s in SENTENCES.items()}


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def _padded_transcript(model: whisper.Whisper, wave: np.ndarray) -> str:
    """openai-whisper's standard path: the log-mel padded to the 30-second window."""
    mel = whisper.log_mel_spectrogram(torch.from_numpy(wave), padding=whisper.audio.N_SAMPLES)
    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False)
    return whisper.decode(model, mel[:, : whisper.audio.N_FRAMES], options).text


@pytest.mark.slow
def test_transcript_and_real_length_features(extractor, speech):
    wave = speech["weather"]
    out = extractor(wave)
    assert {"today", "absolutely", "wonderful", "great"} <= set(_words(out.transcript))
    assert out.speech and out.language == "en" and out.no_speech_prob < 0.5
    assert out.seconds == pytest.approx(wave.size / SAMPLE_RATE)
    assert out.features.dtype == np.float32 and out.features.shape[1] == 512
    assert abs(out.features.shape[0] - out.seconds * 10) <= 1  # not 300 frames of padding
    assert np.isfinite(out.features).all()
    np.testing.assert_allclose(extractor.encode_only(wave), out.features, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("key", ["movie", "love"])
def test_short_clip_transcript_equals_the_padded_path(extractor, speech, key):
    ours = extractor(speech[key]).transcript
    assert _words(ours) == _words(_padded_transcript(extractor.model, speech[key]))


@pytest.mark.slow
def test_frame_rate_and_file_input(cache, speech, tmp_path):
    path = media.write_wav(tmp_path / "movie.wav", speech["movie"])
    coarse = WhisperAudio(frame_rate=5, device="cpu")
    features = coarse.encode_only(path)
    assert abs(features.shape[0] - speech["movie"].size / SAMPLE_RATE * 5) <= 1
    assert coarse.signature["frame_rate"] == 5
    with pytest.raises(ValueError, match="divide 50"):
        WhisperAudio(frame_rate=3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "wave",
    [
        np.zeros(2 * SAMPLE_RATE, np.float32),
        media.tone(2.0),
        (np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE) * 0.05).astype(np.float32),
        np.full(SAMPLE_RATE // 20, 0.2, np.float32),
    ],
    ids=["silence", "tone", "noise", "blip"],
)
def test_no_speech_gives_no_transcript(extractor, wave):
    out = extractor(wave)
    assert out.transcript == "" and not out.speech
    assert out.features.shape == (max(1, round(wave.size / SAMPLE_RATE * 10)), 512)


@pytest.mark.slow
def test_audio_longer_than_whisper_window(extractor, speech):
    gap = np.zeros(31 * SAMPLE_RATE - speech["weather"].size, np.float32)
    wave = np.concatenate([speech["weather"], gap, speech["movie"]])
    out = extractor(wave)
    assert abs(out.features.shape[0] - out.seconds * 10) <= 1
    words = set(_words(out.transcript))
    assert {"today", "wonderful"} <= words and {"hated", "boring"} <= words


@pytest.mark.slow
def test_signature_and_bad_input(extractor):
    signature = extractor.signature
    assert json.loads(json.dumps(signature)) == signature
    assert signature["name"] == "whisper-base-encoder"
    assert signature["dim"] == 512 and signature["frame_rate"] == 10 and signature["recipe"] == 1
    with pytest.raises(InputError, match="NaN"):
        extractor(np.full(SAMPLE_RATE, np.nan, np.float32))
    with pytest.raises(InputError, match="got dict"):
        extractor({"samples": []})


@pytest.mark.slow
def test_language_is_detected_when_not_given(cache, tmp_path):
    sentence = "Bonjour, je suis très content de vous voir aujourd'hui."
    wave = load_audio(media.speech_wav(tmp_path / "fr.wav", sentence, voice="fr"))
    out = WhisperAudio(language=None, device="cpu")(wave)
    assert out.language == "fr" and {"bonjour", "content"} <= set(_words(out.transcript))
