"""The training loop: two randomly damaged views per batch, selection on the validation split.

Every batch is seen twice, each time with its own draw of the train-time missingness
(``firf.missing.random_view``, independent generators), and the model's ``compute_loss`` gets
both views (FIRF distils between them; the baselines just add two task losses).

Model selection uses the validation split only. After each epoch the model is scored on the
complete valid set and on one fixed, seeded damaged copy of it (the same draw every epoch); the
selection score is the mean of the two MAEs, so the kept epoch is good on complete input *and*
under missing modalities. The best epoch's weights are restored at the end.

With ``ema_decay`` > 0 the model that is scored, selected and saved is an exponential moving
average of the trained weights. Small validation sets make the per-epoch scores of raw weights
swing from one epoch to the next, so the kept epoch is partly luck; the average moves smoothly
and usually generalises better too.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from firf.batch import batch_to
from firf.data.dataset import FeatureDataset, make_loader
from firf.device import resolve_device
from firf.errors import InputError
from firf.evaluate import evaluate
from firf.missing import TrainMissing, random_view
from firf.model.standardize import fit_input_statistics

VALID_VIEW_SEED = 2024  # fixed draw of the damaged validation copy, independent of cfg.seed


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8  # epochs without a better selection score before stopping
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    ema_decay: float = 0.0  # > 0: score and keep an EMA of the weights (e.g. 0.99 per step)
    seed: int = 0
    device: str | None = None  # None: CUDA when available, else CPU
    missing: TrainMissing = field(default_factory=TrainMissing)
    num_workers: int = 0
    progress: bool | None = None  # None: progress bars only when stderr is a terminal

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise InputError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise InputError(f"ema_decay must be in [0, 1), got {self.ema_decay}")


@dataclass
class TrainResult:
    history: list[dict]  # per epoch: mean train losses, valid metrics, selection score
    best_epoch: int  # 1-based
    best_valid: dict[str, float]  # metrics on the complete valid set at the best epoch
    best_valid_missing: dict[str, float]  # ... and on the damaged valid copy
    elapsed_s: float
    samples_per_s: float  # training samples (each in two views) per second, validation included
    device: str

    def to_dict(self) -> dict:
        return asdict(self)


def _damaged_valid(missing: TrainMissing) -> partial:
    """The seeded damage of the validation copy; a fresh call replays the same draw."""
    generator = torch.Generator().manual_seed(VALID_VIEW_SEED)
    return partial(random_view, cfg=missing, generator=generator)


def _view_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    seed_a, seed_b = np.random.SeedSequence(seed).generate_state(2)
    return torch.Generator().manual_seed(int(seed_a)), torch.Generator().manual_seed(int(seed_b))


def _weight_average(model: nn.Module, decay: float) -> AveragedModel | None:
    """An EMA copy of ``model`` (buffers averaged too), or None when ``decay`` is 0."""
    if decay == 0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _show_progress(cfg: TrainConfig) -> bool:
    return sys.stderr.isatty() if cfg.progress is None else cfg.progress


def train(
    model: nn.Module,
    datasets: dict[str, FeatureDataset],
    cfg: TrainConfig,
    out_dir: str | Path | None = None,
) -> TrainResult:
    """Train ``model`` on ``datasets["train"]``, select on ``datasets["valid"]``.

    The model first gets its input standardisation statistics from ``datasets["train"]``.

    With ``out_dir`` the best model is saved there (``save_pretrained``) with ``train_log.json``.
    Call ``torch.manual_seed`` before building the model to make its initialisation repeatable
    too; this function seeds everything that happens inside it.
    """
    for split in ("train", "valid"):
        if split not in datasets or len(datasets[split]) == 0:
            raise InputError(f"training needs a non-empty {split!r} split")
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    fit_input_statistics(model, datasets["train"])  # before the EMA copy is taken
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loader = make_loader(
        datasets["train"], cfg.batch_size, shuffle=True, seed=cfg.seed, num_workers=cfg.num_workers
    )
    gen_a, gen_b = _view_generators(cfg.seed)
    show = _show_progress(cfg)
    average = _weight_average(model, cfg.ema_decay)
    scored = average.module if average is not None else model  # what is validated and kept

    history: list[dict] = []
    best_score, best_state, best_epoch, stale = float("inf"), None, 0, 0
    seen, start = 0, time.perf_counter()
    epochs = tqdm(range(1, cfg.epochs + 1), desc="epochs", disable=not show)
    for epoch in epochs:
        model.train()
        sums: dict[str, float] = {}
        batches = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not show)
        for batch in batches:
            view_a = batch_to(random_view(batch, cfg.missing, gen_a), device)
            view_b = batch_to(random_view(batch, cfg.missing, gen_b), device)
            loss, logs = model.compute_loss(view_a, view_b)
            if not torch.isfinite(loss):
                raise InputError(
                    f"training diverged: the loss became {float(loss)} at epoch {epoch}; "
                    "try a lower learning rate (--lr)"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if average is not None:
                average.update_parameters(model)
            seen += len(batch["label"])
            for name, value in logs.items():
                sums[name] = sums.get(name, 0.0) + value
        train_logs = {name: total / len(loader) for name, total in sums.items()}

        valid = evaluate(scored, datasets["valid"], cfg.batch_size, device)
        valid_missing = evaluate(
            scored, datasets["valid"], cfg.batch_size, device, _damaged_valid(cfg.missing)
        )
        score = (valid["mae"] + valid_missing["mae"]) / 2
        history.append(
            {
                "epoch": epoch,
                "train": train_logs,
                "valid": valid,
                "valid_missing": valid_missing,
                "selection_mae": score,
            }
        )
        epochs.set_postfix(loss=f"{train_logs['loss']:.3f}", valid_mae=f"{score:.3f}")
        if score < best_score:
            best_score, best_epoch, stale = score, epoch, 0
            best_state = {
                k: v.detach().to("cpu", copy=True) for k, v in scored.state_dict().items()
            }
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    elapsed = time.perf_counter() - start

    model.load_state_dict(best_state)
    model.eval()
    best = history[best_epoch - 1]
    result = TrainResult(
        history=history,
        best_epoch=best_epoch,
        best_valid=best["valid"],
        best_valid_missing=best["valid_missing"],
        elapsed_s=elapsed,
        samples_per_s=seen / elapsed if elapsed > 0 else 0.0,
        device=str(device),
    )
    if out_dir is not None:
        save_run(model, cfg, result, Path(out_dir))
    return result


def save_run(model: nn.Module, cfg: TrainConfig, result: TrainResult, out_dir: Path) -> None:
    """The checkpoint (config.json + model.safetensors) and ``train_log.json`` beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    loss = getattr(model, "loss_config", None)
    log = {
        "train_config": asdict(cfg),
        "loss_config": asdict(loss) if loss is not None else None,
        "result": result.to_dict(),
    }
    (out_dir / "train_log.json").write_text(json.dumps(log, indent=2))
