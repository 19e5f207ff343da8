"""Builds the demo corpus: every clip's features through the app's own extractors, cached.

Layout of the output folder:

- ``shards/``: per-clip features (``firf.data.shards``), the training input of ``firf train``;
  its manifest also records each clip's text, source identity, voice and face;
- ``faces/<signature>/``: Face Mesh features per CK+ image, shared by every clip showing it;
- ``speech/<signature>/``: Whisper states per utterance, keyed by its text and voice, so a
  rebuild that only re-pairs faces (another split) does not redo the speech; EmoDB clips too;
- ``shards/text_layers.safetensors``: the fine-tuned text layers the text features come from
  (``firf train`` copies them into the checkpoint);
- ``corpus.json``: the recipe (seed, MELD sample size) and the face detection rate.

A rebuild skips every clip already in the shards, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from firf.data.shards import ShardWriter, safe_name, write_atomic
from firf.errors import InputError
from firf.extract.audio import WhisperAudio
from firf.extract.decode import load_audio
from firf.extract.text import MiniLMText
from firf.extract.vision import FaceMeshVision
from firf.weights import TEXT_LAYERS_FILE
from recipes.demo_corpus.compose import PairingConfig, pair_faces, paired_label
from recipes.demo_corpus.emodb import TRAINING_COPIES, EmotionalSpeech, copies, load_emodb
from recipes.demo_corpus.faces import (
    REST,
    FaceSequence,
    face_features,
    list_sequences,
    rest_sequences,
)
from recipes.demo_corpus.speech import Voice, synthesize, voice_for
from recipes.demo_corpus.splits import SELECT_SHARE, SPLITS, subject_split
from recipes.demo_corpus.texts import Utterance, load_utterances

# Long MOSI monologues are cut: the words that matter are usually early, and Whisper's cost grows
# with the clip. The text branch still sees the whole transcript.
MAX_SPEECH_SECONDS = 12.0
# Whisper block whose states are appended to the final ones: early blocks keep how something is
# said (EmoDB, leave-one-speaker-out: 0.75 balanced accuracy from block 2 against 0.65 from the
# final states; benchmarks/demo_checkpoint.md, "Checkpoint v2 groundwork").
AUDIO_TONE_LAYER = 2
# Face landmarks kept by default: all of them, as the shipped checkpoint reads. "expressive"
# keeps the lips, eyes, brows and irises, not the cheeks that a smile and crying both raise
# (firf.extract.vision; benchmarks/demo_checkpoint.md, "Why the crying face reads happy").
FACE_REGIONS = "all"


def signature_digest(signature: dict) -> str:
    return hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()[:12]


def check_recipe(out: Path, recipe: dict) -> None:
    """Refuse to mix clips built with another seed or MELD sample into one folder."""
    path = out / "corpus.json"
    if path.is_file():
        before = json.loads(path.read_text())["recipe"]
        if before != recipe:
            raise InputError(
                f"{out} holds a corpus built with {before}, not {recipe}; choose another --out, "
                "or delete its shards/ and corpus.json to rebuild there (the cached speech and "
                "faces are reused)."
            )


def face_detection(
    sequences: list[FaceSequence], vision: FaceMeshVision, cache: Path
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Features of every sequence (cached per image), keyed by sequence id."""
    return {s.id: face_features(s, vision, cache) for s in tqdm(sequences, desc="faces")}


def build_corpus(
    out: Path,
    data_dir: Path,
    seed: int,
    meld_per_class: int,
    text_layers: Path,
    sst2_sentences: int = 2000,
    select_share: float = SELECT_SHARE,
    face_regions: str = FACE_REGIONS,
    emodb_weight: int = 1,
    tone_layer: int | None = None,
) -> dict:
    """Extract every missing clip into ``out`` and return the corpus summary (also saved).

    ``tone_layer`` (default ``AUDIO_TONE_LAYER``): the Whisper block appended to each audio frame.
    """
    tone_layer = AUDIO_TONE_LAYER if tone_layer is None else tone_layer
    text = MiniLMText(tuned_layers=text_layers)
    recipe = {
        "seed": seed,
        "meld_per_class": meld_per_class,
        "sst2_sentences": sst2_sentences,
        "select_share": select_share,
        "text_layers": text.tuned_digest,
        "pairing": 2,  # compose.py's rule: words lead, faces shift (see its docstring)
        "emodb_copies": TRAINING_COPIES,
    }
    if emodb_weight != 1:  # recorded only when set, so older corpus folders stay usable
        recipe["emodb_weight"] = emodb_weight
    if tone_layer != AUDIO_TONE_LAYER:  # likewise
        recipe["tone_layer"] = tone_layer
    check_recipe(out, recipe)
    utterances = load_utterances(data_dir, meld_per_class, seed, select_share, sst2_sentences)
    voices = load_emodb(data_dir, seed)
    sequences = list_sequences(data_dir / "ckplus48")
    sequences += rest_sequences(sequences)
    face_split = {s.subject: subject_split(s.subject, seed) for s in sequences}
    pairs = pair_faces(utterances, sequences, face_split, seed)

    audio = WhisperAudio(tone_layer=tone_layer)
    vision = FaceMeshVision(regions=face_regions)
    signature = {"text": text.signature, "audio": audio.signature, "vision": vision.signature}
    dims = {name: sig["dim"] for name, sig in signature.items()}
    faces = face_detection(sequences, vision, out / "faces" / signature_digest(vision.signature))

    speech_cache = out / "speech" / signature_digest(audio.signature)
    writer = ShardWriter(out / "shards", dims, signature)
    shutil.copyfile(text_layers, out / "shards" / TEXT_LAYERS_FILE)
    empty = {m: np.zeros((0, dims[m]), np.float32) for m in ("text", "vision")}
    for clip in tqdm(voices, desc="emodb"):
        ids = [clip.id, *(f"{clip.id}~{k}" for k in range(2, copies(clip, emodb_weight) + 1))]
        missing = [clip_id for clip_id in ids if not writer.has(clip_id)]
        if not missing:
            continue
        arrays = {**empty, "audio": emodb_features(clip, audio, speech_cache)}
        for clip_id in missing:  # the copies share one feature file read
            writer.add(
                clip_id,
                arrays,
                clip.label,
                clip.split,
                source="emodb",
                group=clip.group,
                emotion=clip.emotion,
            )
    for utt in tqdm(utterances, desc="clips"):
        if writer.has(utt.id):
            continue
        face = pairs[utt.id]
        voice = voice_for(utt.id, seed)
        writer.add(
            utt.id,
            clip_arrays(
                utt, voice, faces[face.id] if face else None, text, audio, dims, speech_cache
            ),
            paired_label(utt.label, face, PairingConfig()),
            utt.split,
            text_label=utt.label,
            text=utt.text,
            source=utt.source,
            group=utt.group,
            voice=asdict(voice),
            face=face.id if face else None,
            face_emotion=face.emotion if face else None,
            face_subject=face.subject if face else None,
        )

    found = np.concatenate([faces[s.id][1] for s in sequences if s.emotion != REST])
    summary = {
        "recipe": recipe,
        "signature": signature,
        "clips": {
            split: sum(u.split == split for u in utterances)
            + sum(copies(c, emodb_weight) for c in voices if c.split == split)
            for split in SPLITS
        },
        "composition": composition(utterances, pairs, voices, emodb_weight),
        "face_images": int(found.size),
        "face_detection_rate": float(found.mean()),
    }
    (out / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def composition(
    utterances: list[Utterance],
    pairs: dict[str, FaceSequence | None],
    voices: list[EmotionalSpeech],
    emodb_weight: int = 1,
) -> dict[str, dict[str, int]]:
    """Clips per split by source and by the side of the paired face ("none": no face)."""
    counts: dict[str, dict[str, int]] = {}
    for clip in voices:
        split = counts.setdefault(clip.split, {})
        split["emodb"] = split.get("emodb", 0) + copies(clip, emodb_weight)
    for utt in utterances:
        face = pairs[utt.id]
        for key in (utt.source, f"face_{face.polarity if face else 'none'}"):
            split = counts.setdefault(utt.split, {})
            split[key] = split.get(key, 0) + 1
    return counts


def cached_states(path: Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Whisper states stored at ``path``, computed (and stored atomically) only when absent."""
    if path.is_file():
        return np.load(path)
    states = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, states)
    write_atomic(path, buffer.getvalue())
    return states


def speech_features(utt: Utterance, voice: Voice, audio: WhisperAudio, cache: Path) -> np.ndarray:
    """Whisper states of the utterance read aloud by ``voice``, cached by (id, text, voice)."""
    key = json.dumps([utt.text, asdict(voice), MAX_SPEECH_SECONDS], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]

    def compute() -> np.ndarray:
        rate, samples = synthesize(utt.text, voice)
        return audio.encode_only((rate, samples[: int(MAX_SPEECH_SECONDS * rate)]))

    return cached_states(cache / f"{safe_name(utt.id)}-{digest}.npy", compute)


def emodb_features(clip: EmotionalSpeech, audio: WhisperAudio, cache: Path) -> np.ndarray:
    """Whisper states of one EmoDB recording, cached by its file name."""
    return cached_states(
        cache / f"{safe_name(clip.id)}.npy", lambda: audio.encode_only(load_audio(str(clip.path)))
    )


def clip_arrays(
    utt: Utterance,
    voice: Voice,
    face: tuple[np.ndarray, np.ndarray] | None,
    text: MiniLMText,
    audio: WhisperAudio,
    dims: dict[str, int],
    speech_cache: Path,
) -> dict[str, np.ndarray]:
    """One clip: the utterance's text, its espeak-ng reading, and the paired face (or none)."""
    arrays = {"text": text(utt.text), "audio": speech_features(utt, voice, audio, speech_cache)}
    if face is None:
        return {**arrays, "vision": np.zeros((0, dims["vision"]), np.float32)}
    return {**arrays, "vision": face[0], "vision_mask": face[1]}
