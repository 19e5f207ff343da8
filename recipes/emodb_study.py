"""Checkpoint v2, voice: how well do Whisper-base encoder states tell happy from negative speech?

    python recipes/emodb_study.py        # caches the states of the 392 clips once (~2 min)

EmoDB (7 speakers here, German, acted). Valence mapping (documented in the model card when it
ships): happiness +1; anger, sadness, disgust, fear -1; boredom -0.5 (mildly negative);
neutral 0. The reported figure is the issue's: happy vs negative (anger, sadness, disgust,
fear) balanced accuracy, leave-one-speaker-out over the 7 speakers, so every clip is scored by a
probe that never heard its speaker.

Variants: which encoder layer (0 = after the first block ... 6 = the final ``ln_post`` output the
FIRF audio branch reads today), pooling (mean; mean and std), which clips train the probe
(happy vs negative only; all clips as valence regression) and per-speaker standardisation
(each speaker's features centred on their own mean, which needs only unlabeled speech of that
speaker, e.g. the clip itself in a live demo: here it is an upper bound).

``--part`` adds three follow-ups (session 25, after the branch was found to read anger like
happy speech): ``anger`` (happy against anger only, per layer), ``perturbed`` (the probe's
training speakers also heard pitch-shifted and speed-changed copies: does that carry to a new
voice?) and ``speakers`` (the probe fitted on 2-6 of the other speakers: do more speakers help?);
``per-speaker`` (session 26): each held-out speaker's figure per layer (and blocks 2 and 3
averaged, session 27), and the two men's against the five women's.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from recipes.demo_corpus.emodb import VALENCE  # noqa: E402
from recipes.study_data import balanced_accuracy, data_dir, study_cache  # noqa: E402

NEGATIVE = ("anger", "sadness", "disgust", "fear")
# EmoDB's two men among the seven speakers here (Burkhardt et al., 2005: 08, 09, 13, 14 and 16
# are women).
MEN = ("11", "12")


def load_labels(root: Path) -> list[dict]:
    with open(root / "emodb" / "labels.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def encoder_layers(audio, wave: np.ndarray) -> list[torch.Tensor]:
    """Whisper's encoder states of ``wave`` after each stage, (T, 512) each: the conv output,
    blocks 1-5, and block 6 through ``ln_post`` (what ``WhisperAudio`` returns)."""
    encoder = audio.model.encoder
    with torch.inference_mode():
        x = torch.nn.functional.gelu(encoder.conv1(audio._mel(wave)))
        x = torch.nn.functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
        x = x + encoder.positional_embedding[: x.shape[1]]
        layers = [x[0]]
        for block in encoder.blocks:
            x = block(x)
            layers.append(x[0])
        layers[-1] = encoder.ln_post(x)[0]
    return layers


def layer_stats(rows: list[dict], root: Path) -> np.ndarray:
    """(clips, 7 layers [conv output, blocks 1-5, ln_post of block 6], 2 [mean, std], 512) Whisper-base encoder statistics, cached."""
    path = study_cache("emodb") / "whisper_base_layers.npy"
    if path.is_file():
        return np.load(path)
    from firf.extract.audio import WhisperAudio
    from firf.extract.decode import load_audio

    audio = WhisperAudio("base", device="cpu")
    out = np.zeros((len(rows), 7, 2, 512), dtype=np.float32)
    start = time.time()
    for i, row in enumerate(rows):
        layers = encoder_layers(audio, load_audio(str(root / "emodb" / "wav" / row["file"])))
        for j, states in enumerate(layers):
            out[i, j, 0] = states.mean(0).numpy()
            out[i, j, 1] = states.std(0).numpy()
        if i % 50 == 0:
            print(f"  {i}/{len(rows)} clips, {time.time() - start:.0f} s", flush=True)
    np.save(path, out)
    return out


def perturb(wave: np.ndarray, kind: str) -> np.ndarray:
    """``p-4``: 4 semitones lower, tempo kept (phase-vocoder stretch, then a resample whose rate
    is rounded to 400 Hz so the resampling filter stays short); ``s0.9``: played at 0.9x speed,
    so pitch, formants and tempo all move, as speed perturbation does in speech recognition."""
    import torchaudio.functional as AF

    x = torch.from_numpy(wave)[None]
    if kind.startswith("s"):
        return AF.resample(x, int(16000 * float(kind[1:])), 16000)[0].numpy()
    rate = round(16000 * 2 ** (float(kind[1:]) / 12) / 400) * 400 / 16000
    n_fft, hop = 512, 128
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop, window=window, return_complex=True)
    advance = torch.linspace(0, torch.pi * hop, spec.shape[-2])[..., None]
    stretched = AF.phase_vocoder(spec, 1 / rate, advance)
    y = torch.istft(stretched, n_fft, hop, window=window, length=round(x.shape[-1] * rate))
    return AF.resample(y, round(16000 * rate), 16000)[0].numpy()


def perturbed_means(rows: list[dict], root: Path, kind: str) -> np.ndarray:
    """(clips, 7, 512) mean states of every layer for the clips perturbed by ``kind``, cached."""
    path = study_cache("emodb") / f"whisper_base_means_{kind}.npy"
    if path.is_file():
        return np.load(path)
    from firf.extract.audio import WhisperAudio
    from firf.extract.decode import load_audio

    audio = WhisperAudio("base", device="cpu")
    out = np.zeros((len(rows), 7, 512), dtype=np.float32)
    for i, row in enumerate(rows):
        wave = perturb(load_audio(str(root / "emodb" / "wav" / row["file"])), kind)
        out[i] = torch.stack([states.mean(0) for states in encoder_layers(audio, wave)]).numpy()
    np.save(path, out)
    return out


def loso_happy_against(
    x: np.ndarray,
    rows: list[dict],
    negative: tuple[str, ...] = NEGATIVE,
    copies: tuple[np.ndarray, ...] = (),
    train_speakers: int | None = None,
    c: float = 0.1,
    by_speaker: dict | None = None,
) -> float:
    """Happy against ``negative`` with each speaker held out in turn (pooled BA, as ``loso``).

    ``copies``: perturbed versions of ``x`` whose training-speaker rows join the fit (the held-out
    speaker is always scored on the original clips). ``train_speakers``: fit on only that many of
    the other speakers, the mean of five seeded draws. ``by_speaker``: filled with each held-out
    speaker's (truth, predicted) of the last draw."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    speakers = np.array([r["speaker"] for r in rows])
    emotion = np.array([r["emotion"] for r in rows])
    scored = np.isin(emotion, ("happiness", *negative))
    happy = emotion == "happiness"
    draws = 1 if train_speakers is None else 5
    rng = np.random.default_rng(0)
    results = []
    for _ in range(draws):
        truth, predicted = [], []
        for s in np.unique(speakers):
            others = np.unique(speakers[speakers != s])
            if train_speakers is not None:
                others = rng.choice(others, train_speakers, replace=False)
            fit = np.isin(speakers, others) & scored
            model = make_pipeline(
                StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            )
            model.fit(
                np.concatenate([v[fit] for v in (x, *copies)]), np.tile(happy[fit], 1 + len(copies))
            )
            held = (speakers == s) & scored
            truth += list(happy[held])
            predicted += list(model.predict(x[held]))
            if by_speaker is not None:
                by_speaker[s] = (happy[held], model.predict(x[held]))
        results.append(balanced_accuracy(truth, predicted))
    return float(np.mean(results))


def follow_ups(part: str, rows: list[dict], root: Path, stats: np.ndarray) -> None:
    """Print the table of one ``--part`` (see the module docstring)."""
    means = stats[:, :, 0]
    if part == "anger":
        print("\n| layer (mean) | C=0.01 | C=0.1 | C=1 |  (happy against anger only)")
        print("|---|---|---|---|")
        for layer in range(7):
            cells = [
                f"{loso_happy_against(means[:, layer], rows, ('anger',), c=c):.3f}"
                for c in (0.01, 0.1, 1.0)
            ]
            print(f"| {layer} | " + " | ".join(cells) + " |", flush=True)
    elif part == "perturbed":
        kinds = {"pitch ±4": ["p-4", "p4"], "pitch ±4 ±7": ["p-4", "p4", "p-7", "p7"]}
        kinds |= {
            "speed 0.9 / 1.1": ["s0.9", "s1.1"],
            "all six": ["p-4", "p4", "p-7", "p7", "s0.9", "s1.1"],
        }
        shifted = {k: perturbed_means(rows, root, k) for k in kinds["all six"]}
        layouts = {"layer 2": [2], "layer 6": [6], "layers 2 ++ 6": [2, 6]}
        print(
            "\n| training copies | " + " | ".join(layouts) + " |  (happy against negative, C=0.1)"
        )
        print("|---|---|---|---|")
        for name, used in {"none": [], **kinds}.items():
            cells = []
            for layers in layouts.values():
                x = means[:, layers].reshape(len(rows), -1)
                copies = tuple(shifted[k][:, layers].reshape(len(rows), -1) for k in used)
                cells.append(f"{loso_happy_against(x, rows, copies=copies):.3f}")
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    elif part == "speakers":
        print("\n| training speakers | layer 2 | layer 6 |  (happy against negative, C=0.1)")
        print("|---|---|---|")
        for count in range(2, 7):
            n = None if count == 6 else count
            cells = [
                f"{loso_happy_against(means[:, layer], rows, train_speakers=n):.3f}"
                for layer in (2, 6)
            ]
            print(f"| {count} | " + " | ".join(cells) + " |", flush=True)
    elif part == "per-speaker":
        speakers = sorted({r["speaker"] for r in rows})
        women = [s for s in speakers if s not in MEN]
        print(
            "\n| layer (mean) | " + " | ".join(speakers) + " | pooled | men (11, 12) | women |"
            "  (happy against negative, C=0.1, each speaker held out)"
        )
        print("|---" * (len(speakers) + 4) + "|")
        # the seven layers, and blocks 2 and 3 averaged frame by frame (a clip's mean of the
        # average is the average of the two clip means): one tone half of the same size
        rows_of = {str(layer): means[:, layer] for layer in range(7)}
        rows_of["2+3 averaged"] = means[:, 2:4].mean(1)
        for layer, features in rows_of.items():
            held: dict = {}
            pooled = loso_happy_against(features, rows, by_speaker=held)

            def over(group: list[str], held: dict = held) -> float:
                return balanced_accuracy(
                    np.concatenate([held[s][0] for s in group]),
                    np.concatenate([held[s][1] for s in group]),
                )

            cells = [f"{over([s]):.2f}" for s in speakers]
            cells += [f"{pooled:.3f}", f"{over(list(MEN)):.3f}", f"{over(women):.3f}"]
            print(f"| {layer} | " + " | ".join(cells) + " |", flush=True)


def loso(features, rows, train_on: str, per_speaker: bool, c: float = 0.1) -> float:
    """Happy-vs-negative balanced accuracy with each speaker held out in turn; ``train_on``
    "binary" is ``loso_happy_against``, "valence" a ridge regression on every clip."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    speakers = np.array([r["speaker"] for r in rows])
    emotion = np.array([r["emotion"] for r in rows])
    valence = np.array([VALENCE[e] for e in emotion])
    x = features.copy()
    if per_speaker:
        for s in np.unique(speakers):
            x[speakers == s] -= x[speakers == s].mean(0)
    if train_on == "binary":
        return loso_happy_against(x, rows, c=c)
    scored = np.isin(emotion, ("happiness", *NEGATIVE))
    truth, predicted = [], []
    for s in np.unique(speakers):
        held = speakers == s
        # valence regression on every clip, happy clips weighted up to balance
        fit = ~held
        weight = np.where(valence[fit] > 0, (valence[fit] < 0).sum() / (valence[fit] > 0).sum(), 1)
        model = make_pipeline(StandardScaler(), Ridge(alpha=1.0 / c))
        model.fit(x[fit], valence[fit], ridge__sample_weight=weight)
        score = model.predict(x[held & scored])
        truth += list(valence[held & scored] > 0)
        predicted += list(score > 0)
    return balanced_accuracy(truth, predicted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--part",
        choices=("layers", "anger", "perturbed", "speakers", "per-speaker"),
        default="layers",
        help="layers: the groundwork tables; the others: session 25's follow-ups",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = data_dir()
    rows = load_labels(root)
    stats = layer_stats(rows, root)
    if args.part != "layers":
        follow_ups(args.part, rows, root, stats)
        return
    print("\n| features | probe | per-speaker centring | LOSO happy-vs-negative BA |")
    print("|---|---|---|---|")
    for layer in range(7):
        pooled = {"mean": stats[:, layer, 0], "mean+std": stats[:, layer].reshape(len(rows), -1)}
        for pooling, feats in pooled.items():
            for train_on in ("binary", "valence"):
                for centred in (False, True):
                    ba = loso(feats, rows, train_on, centred)
                    print(f"| layer {layer} {pooling} | {train_on} | {centred} | {ba:.3f} |")
    print("\nRegularisation and layer mixes (binary probe, no centring):")
    print("| features | C=0.01 | C=0.1 | C=1 |")
    print("|---|---|---|---|")
    mixes = {
        "layer 6 mean (today)": stats[:, 6, 0],
        "layer 2 mean": stats[:, 2, 0],
        "layers 2+3 mean, averaged": stats[:, 2:4, 0].mean(1),
        "layers 1-4 mean, averaged": stats[:, 1:5, 0].mean(1),
        "layer 2 mean ++ layer 6 mean": np.concatenate([stats[:, 2, 0], stats[:, 6, 0]], 1),
    }
    for name, feats in mixes.items():
        cells = [f"{loso(feats, rows, 'binary', False, c):.3f}" for c in (0.01, 0.1, 1.0)]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
