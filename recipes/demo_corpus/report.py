"""Validation tables of trained checkpoints against the linear probes, on the demo corpus.

Every modality subset is crossed with intra-modal drop rates; each cell is averaged over the
evaluation seeds. A subset is scored on the clips that have at least one of its modalities (the
vision-only row therefore covers the clips with a face).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from firf.data.dataset import FeatureDataset
from firf.data.shards import load_shards
from firf.evaluate import predict_scores
from firf.extract.vision import FaceMeshVision
from firf.metrics import acc2_non0, balanced_accuracy, paired_bootstrap, regression_metrics
from firf.missing import EVAL_SEEDS, drop_frames, keep_modalities
from firf.modalities import LONG, SUBSETS
from firf.model import load_model
from recipes.demo_corpus.build import signature_digest
from recipes.demo_corpus.faces import FaceSequence, face_features, list_sequences
from recipes.demo_corpus.probes import (
    face_probe,
    face_probe_predictions,
    fit_ridge,
    ridge_predictions,
    ridge_probe,
)
from recipes.demo_corpus.splits import subject_split

RATES = (0.0, 0.3, 0.6, 0.9)
SHOWN = ("acc2_non0", "f1_non0", "mae", "corr")


def subset_of(dataset: FeatureDataset, keep: list[bool]) -> FeatureDataset:
    samples = [s for s, k in zip(dataset.samples, keep, strict=True) if k]
    return FeatureDataset(samples, dataset.dims, dataset.kind, dataset.extractor)


def has_any(dataset: FeatureDataset, subset: str) -> list[bool]:
    def present(sample: dict, modality: str) -> bool:
        mask = sample.get(f"{modality}_mask")
        return bool(len(sample[modality])) and (mask is None or bool(mask.any()))

    return [any(present(s, LONG[letter]) for letter in subset) for s in dataset.samples]


def scores(model: torch.nn.Module, dataset: FeatureDataset, subset: str, rate: float, seed: int):
    """The model's scores with only ``subset`` kept and a seeded share ``rate`` of its frames
    dropped (batches of 256, the size the model card's numbers were computed with)."""
    generator = torch.Generator().manual_seed(seed)

    def damage(batch: dict) -> dict:
        return drop_frames(keep_modalities(batch, subset), rate, generator)

    return predict_scores(model, dataset, batch_size=256, transform=damage)


def robustness_grid(model: torch.nn.Module, dataset: FeatureDataset) -> dict:
    """{subset: {rate: metrics averaged over EVAL_SEEDS}}."""
    model.eval()
    grid = {}
    for subset in SUBSETS:
        part = subset_of(dataset, has_any(dataset, subset))
        grid[subset] = {}
        for rate in RATES:
            runs = [
                regression_metrics(scores(model, part, subset, rate, seed), part.labels)
                for seed in EVAL_SEEDS
            ]
            grid[subset][str(rate)] = {k: float(np.mean([r[k] for r in runs])) for k in SHOWN}
            grid[subset][str(rate)]["n"] = len(part)
    return grid


def face_dataset(
    sequences: list[FaceSequence],
    features: dict[str, tuple[np.ndarray, np.ndarray]],
    dims: dict[str, int],
) -> FeatureDataset:
    """Happy (+1) and negative (-1) face sequences alone, vision only, for the face comparison."""
    samples = [
        {
            "id": s.id,
            "label": 1.0 if s.polarity == "positive" else -1.0,
            "text": np.zeros((0, dims["text"]), np.float32),
            "audio": np.zeros((0, dims["audio"]), np.float32),
            "vision": features[s.id][0],
            "vision_mask": features[s.id][1],
        }
        for s in sequences
        if s.polarity != "neutral"
    ]
    return FeatureDataset(samples, dims)


def face_balanced_accuracy(model: torch.nn.Module, faces: FeatureDataset) -> float:
    """How well the model's vision-only score tells happy from negative faces (sign of score)."""
    model.eval()
    predicted = scores(model, faces, "v", 0.0, EVAL_SEEDS[0]) > 0
    return float(balanced_accuracy_score(faces.labels > 0, predicted))


def face_sets(
    out: Path, data_dir: Path, seed: int, corpus: FeatureDataset, splits: tuple[str, ...]
) -> dict[str, FeatureDataset]:
    """The happy and negative CK+ sequences of each split's subjects, features from the cache,
    made by the face extractor that made ``corpus`` (a split of the same corpus)."""
    dims = corpus.dims
    vision = FaceMeshVision(regions=corpus.extractor["vision"].get("regions", "all"))
    cache = out / "faces" / signature_digest(vision.signature)
    sequences = list_sequences(data_dir / "ckplus48")
    features = {s.id: face_features(s, vision, cache) for s in sequences}
    side = {s.id: subject_split(s.subject, seed) for s in sequences}
    return {
        split: face_dataset([s for s in sequences if side[s.id] == split], features, dims)
        for split in splits
    }


def pooled_faces(faces: FeatureDataset) -> tuple[np.ndarray, np.ndarray]:
    x = np.stack([s["vision"][s["vision_mask"] > 0].mean(0) for s in faces.samples])
    return x, (faces.labels > 0).astype(int)


def probe_results(
    train: FeatureDataset,
    valid_parts: dict[str, FeatureDataset],
    faces_train: FeatureDataset,
    faces_valid: FeatureDataset,
) -> dict:
    return {
        "text": ridge_probe(train, valid_parts, "text"),
        "audio": ridge_probe(train, valid_parts, "audio"),
        "face_balanced_accuracy": face_probe(pooled_faces(faces_train), pooled_faces(faces_valid)),
    }


def markdown_grid(grid: dict) -> str:
    """Rows: subsets; columns: rates; cells: Acc-2 / F1 / MAE / Corr."""
    head = "| subset | n | " + " | ".join(f"r={r} Acc-2 / F1 / MAE / Corr" for r in RATES) + " |"
    lines = [head, "|" + "---|" * (len(RATES) + 2)]
    for subset, by_rate in grid.items():
        cells = [" / ".join(f"{by_rate[str(r)][k]:.3f}" for k in SHOWN) for r in RATES]
        lines.append(f"| {subset} | {by_rate['0.0']['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_drop_one(grids: dict[str, dict]) -> str:
    """Acc-2 and MAE lost when one modality goes missing, from the complete tav input (r = 0)."""
    lines = [
        "| model | missing | Acc-2 (tav -> subset) | MAE (tav -> subset) |",
        "|---|---|---|---|",
    ]
    for name, grid in grids.items():
        full = grid["tav"]["0.0"]
        for subset, gone in (("av", "text"), ("tv", "audio"), ("ta", "vision")):
            cell = grid[subset]["0.0"]
            lines.append(
                f"| {name} | {gone} | {full['acc2_non0']:.3f} -> {cell['acc2_non0']:.3f} | "
                f"{full['mae']:.3f} -> {cell['mae']:.3f} |"
            )
    return "\n".join(lines)


def report(out: Path, data_dir: Path, seed: int, checkpoints: list[Path]) -> tuple[dict, str]:
    """Probes and every checkpoint on the validation clips; (JSON-able results, markdown)."""
    shards = out / "shards"
    train, valid = load_shards(shards, "train"), load_shards(shards, "valid")
    parts = {
        "all": valid,
        "mosi": subset_of(valid, [i.startswith("mosi/") for i in valid.ids]),
        "meld": subset_of(valid, [i.startswith("meld/") for i in valid.ids]),
    }
    faces = face_sets(out, data_dir, seed, train, ("train", "valid"))
    results = {"probes": probe_results(train, parts, faces["train"], faces["valid"])}
    sections = [markdown_probes(results["probes"])]
    grids = {}
    for path in checkpoints:
        model = load_model(path)
        name = f"{type(model).__name__} ({path})"
        grids[name] = robustness_grid(model, valid)
        results[name] = {
            "grid": grids[name],
            "single_modality": {
                "text": single_modality(model, parts, "t"),
                "audio": single_modality(model, parts, "a"),
                "face_balanced_accuracy": face_balanced_accuracy(model, faces["valid"]),
            },
            "versus_probes": versus_probes(model, train, valid, faces),
        }
        sections.append(f"### {name}\n\n{markdown_grid(grids[name])}")
        sections.append(markdown_single(name, results[name]["single_modality"]))
        sections.append(markdown_versus_probes(name, results[name]["versus_probes"]))
    sections.append("### Drop-one-modality cost\n\n" + markdown_drop_one(grids))
    return results, "\n\n".join(sections)


def single_modality(model: torch.nn.Module, parts: dict[str, FeatureDataset], subset: str) -> dict:
    """The model on one modality alone (r = 0), per validation part: the probe's counterpart."""
    return {
        name: regression_metrics(scores(model, part, subset, 0.0, EVAL_SEEDS[0]), part.labels)
        for name, part in parts.items()
    }


def versus_probes(
    model: torch.nn.Module,
    train: FeatureDataset,
    valid: FeatureDataset,
    faces: dict[str, FeatureDataset],
) -> dict[str, dict[str, float]]:
    """Each single-modality result minus its probe's, on the same clips, with a paired
    bootstrap 95 % interval: Acc-2 for text and audio, balanced accuracy for faces."""
    model.eval()
    out = {}
    for modality, subset in (("text", "t"), ("audio", "a")):
        part = subset_of(valid, has_any(valid, subset))
        probe, labels = ridge_predictions(
            fit_ridge(train, modality), part, modality, train.score_range
        )
        if labels.shape != part.labels.shape or not np.allclose(labels, part.labels, atol=1e-6):
            raise AssertionError(f"the {modality} probe and the model saw different clips")
        mine = scores(model, part, subset, 0.0, EVAL_SEEDS[0])
        counted = labels != 0  # the clips Acc-2 (non0) scores, so that n says how many
        out[modality] = paired_bootstrap(acc2_non0, mine[counted], probe[counted], labels[counted])
    face_model = scores(model, faces["valid"], "v", 0.0, EVAL_SEEDS[0])
    face_probe_says = face_probe_predictions(
        pooled_faces(faces["train"]), pooled_faces(faces["valid"])
    )
    # The probe says 1 (happy) or 0; balanced_accuracy reads a score's sign, so shift by 0.5.
    out["face"] = paired_bootstrap(
        balanced_accuracy, face_model, face_probe_says - 0.5, faces["valid"].labels
    )
    return out


def markdown_versus_probes(name: str, comparison: dict) -> str:
    lines = [
        f"{name} minus the linear probe, same clips (paired bootstrap, 2,000 draws):",
        "",
        "| input | metric | model | probe | difference | 95 % interval | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for modality, metric in (("text", "Acc-2"), ("audio", "Acc-2"), ("face", "balanced acc.")):
        c = comparison[modality]
        lines.append(
            f"| {modality} only | {metric} | {c['a']:.3f} | {c['b']:.3f} | {c['difference']:+.3f} "
            f"| [{c['low']:+.3f}, {c['high']:+.3f}] | {c['n']} |"
        )
    return "\n".join(lines)


def markdown_probes(probes: dict) -> str:
    return _single_modality_table(
        "### Linear probes (frozen features)",
        probes,
        column="probe",
        row="{modality} ridge",
        face="Face landmark probe, happy vs negative",
    )


def markdown_single(name: str, single: dict) -> str:
    return _single_modality_table(
        f"Single modality, {name}:",
        single,
        column="input",
        row="{modality} only",
        face="Face only, happy vs negative",
    )


def _single_modality_table(title: str, results: dict, column: str, row: str, face: str) -> str:
    """Text and audio rows per corpus part, then the face score: probes and models alike."""
    lines = [
        title,
        "",
        f"| {column} | part | Acc-2 | F1 | MAE | Corr |",
        "|---|---|---|---|---|---|",
    ]
    for modality in ("text", "audio"):
        for part, m in results[modality].items():
            lines.append(
                f"| {row.format(modality=modality)} | {part} | {m['acc2_non0']:.3f} | "
                f"{m['f1_non0']:.3f} | {m['mae']:.3f} | {m['corr']:.3f} |"
            )
    lines.append(f"\n{face}, balanced accuracy: {results['face_balanced_accuracy']:.3f}")
    return "\n".join(lines)
