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

``train_fixed`` is the benchmark's protocol instead: a fixed number of steps, warm-up and cosine
decay of the learning rate, and the final EMA weights kept, with no selection at all (nothing
about the result depends on a noisy validation score). With an ``unlabelled`` split, every step
also feeds an unlabelled batch as given and one damaged view of it to the model's
``label_free_loss``: the whole clip, as the weight average reads it, teaches the damaged one.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
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
from firf.model.standardize import fit_from_training_data

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


def damaged_view(missing: TrainMissing) -> partial:
    """The seeded damage of the validation copy; a fresh call replays the same draw."""
    generator = torch.Generator().manual_seed(VALID_VIEW_SEED)
    return partial(random_view, cfg=missing, generator=generator)


def selection_scores(model: nn.Module, dataset: FeatureDataset, missing=None, device=None) -> dict:
    """A fixed-budget run's score on its selection split: metrics on the complete clips and on
    the seeded damaged copy (``missing``: a TrainMissing, default the default), and their mean
    MAE, ``selection_mae``."""
    damaged = damaged_view(missing or TrainMissing())
    complete = evaluate(model, dataset, device=device)
    damage = evaluate(model, dataset, device=device, transform=damaged)
    return {
        "complete": complete,
        "damaged": damage,
        "selection_mae": (complete["mae"] + damage["mae"]) / 2,
    }


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
    fit_from_training_data(model, datasets["train"])  # before the EMA copy is taken
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
            scored, datasets["valid"], cfg.batch_size, device, damaged_view(cfg.missing)
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


@dataclass
class FixedBudget:
    """The benchmark's training protocol (see the module docstring)."""

    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    seed: int = 0
    device: str | None = None
    missing: TrainMissing = field(default_factory=TrainMissing)  # labelled views
    unlabelled_missing: TrainMissing = field(default_factory=TrainMissing)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise InputError("steps and batch_size must be at least 1")
        if not 0.0 < self.ema_decay < 1.0:
            raise InputError(f"ema_decay must be in (0, 1), got {self.ema_decay}")


def warmup_cosine(step: int, steps: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.5 * (1.0 + float(np.cos(np.pi * min(progress, 1.0))))


def _endless(loader):
    while True:
        yield from loader


def train_fixed(
    model: nn.Module,
    datasets: dict[str, FeatureDataset],
    cfg: FixedBudget,
    on_step: Callable[[int, nn.Module], None] | None = None,
) -> dict[str, float]:
    """Train for exactly ``cfg.steps`` steps and leave the final EMA weights in ``model``.

    Only ``datasets["train"]`` labels are read; ``datasets["unlabelled"]`` (optional) feeds the
    model's ``label_free_loss`` when it has one, with the weight average as its teacher.
    Returns the mean of each loss term over the last tenth of the steps (to see whether
    training had settled).

    ``on_step(step, averaged)`` is called after every step (1-based) with the EMA model, e.g. to
    score it along the way (``benchmarks/training_curve.py``). It runs on a fork of the random
    state, so watching never changes what is trained (leave ``averaged``'s weights alone).
    """
    if len(datasets.get("train", [])) == 0:
        raise InputError("training needs a non-empty 'train' split")
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    fit_from_training_data(model, datasets["train"])
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, int(cfg.warmup_fraction * cfg.steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, cfg.steps, warmup)
    )
    average = _weight_average(model, cfg.ema_decay)
    labelled = _endless(make_loader(datasets["train"], cfg.batch_size, True, cfg.seed))
    unlabelled = None
    if len(datasets.get("unlabelled", [])) and hasattr(model, "label_free_loss"):
        loader = make_loader(datasets["unlabelled"], cfg.batch_size, True, cfg.seed + 1)
        unlabelled = _endless(loader)
        # The weight average reads the whole clips for distillation ("mean teacher",
        # ``FIRF.label_free_loss``): steadier than the model it averages.
        teacher = average.module.eval()
    gen_a, gen_b = _view_generators(cfg.seed)
    sums: dict[str, float] = {}
    tail_start = cfg.steps - max(1, cfg.steps // 10)
    model.train()
    for step in range(cfg.steps):
        batch = next(labelled)
        view_a = batch_to(random_view(batch, cfg.missing, gen_a), device)
        view_b = batch_to(random_view(batch, cfg.missing, gen_b), device)
        loss, logs = model.compute_loss(view_a, view_b)
        if unlabelled is not None:
            # Without a label the clip as given is the only trustworthy teacher: view A keeps
            # it whole, view B is damaged, so distillation teaches every damaged pattern the
            # complete clip's reading, as the weight average reads it.
            clips = {k: v for k, v in next(unlabelled).items() if k != "label"}
            free_b = batch_to(random_view(clips, cfg.unlabelled_missing, gen_b), device)
            free, free_logs = model.label_free_loss(batch_to(clips, device), free_b, teacher)
            loss = loss + free
            logs.update({f"unlabelled_{k}": v for k, v in free_logs.items()})
        if not torch.isfinite(loss):
            raise InputError(f"training diverged at step {step}; try a lower learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        schedule.step()
        average.update_parameters(model)
        if on_step is not None:
            with torch.random.fork_rng():  # scoring must not shift training's dropout draws
                on_step(step + 1, average.module)
        if step >= tail_start:
            for name, value in logs.items():
                sums[name] = sums.get(name, 0.0) + value
    model.load_state_dict(average.module.state_dict())
    model.eval()
    return {name: total / (cfg.steps - tail_start) for name, total in sums.items()}
