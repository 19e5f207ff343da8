"""`python -m recipes.demo_corpus`: build the demo checkpoint's corpus, optionally report on models.

python recipes/text_study.py --only top3 --save DIR/text_layers.safetensors
python -m recipes.demo_corpus --out DIR --text-layers DIR/text_layers.safetensors
python -m firf train --shards DIR/shards --model firf --out runs/firf --seed 0 --epochs 10
python -m recipes.demo_corpus --out DIR --report runs/firf runs/late_fusion --json results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from firf.errors import InputError
from firf.extract.vision import REGIONS
from recipes.demo_corpus.paths import default_out_dir, shared_data_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="corpus folder (default: user cache)"
    )
    parser.add_argument("--seed", type=int, default=0, help="voices, face pairing, subject split")
    parser.add_argument(
        "--meld-per-class",
        type=int,
        default=500,
        help="MELD training utterances per sentiment class (dev: up to the same, balanced)",
    )
    parser.add_argument(
        "--sst2-sentences",
        type=int,
        default=2000,
        help="SST-2 training sentences (its dev file is always in validation)",
    )
    parser.add_argument(
        "--text-layers",
        type=Path,
        required=True,
        help="fine-tuned MiniLM layers (recipes/text_study.py --save) the text features use",
    )
    parser.add_argument(
        "--face-regions",
        choices=REGIONS,
        default=REGIONS[0],
        help="face landmarks the clips keep (expressive: lips, eyes, brows, irises; no cheeks)",
    )
    parser.add_argument(
        "--emodb-weight",
        type=int,
        default=1,
        help="multiply the EmoDB training clips' copies (the voice's tone against the words)",
    )
    parser.add_argument(
        "--tone-layer",
        type=int,
        default=None,
        help="Whisper block whose states follow the final ones in each audio frame (default 2)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="source data folder (default: $FIRF_SHARED_DATA or ../shared/data)",
    )
    parser.add_argument(
        "--report",
        nargs="+",
        type=Path,
        metavar="CHECKPOINT",
        help="after building, evaluate these checkpoints and the linear probes on validation",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; short clips gain little from more, shared machines lose a lot",
    )
    parser.add_argument("--json", type=Path, help="write the report as JSON to this file")


def run(args: argparse.Namespace) -> int:
    try:
        return build_and_report(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def build_and_report(args: argparse.Namespace) -> int:
    import torch

    from recipes.demo_corpus.build import build_corpus

    torch.set_num_threads(args.threads)
    out = args.out or default_out_dir()
    data = args.data or shared_data_dir()
    summary = build_corpus(
        out,
        data,
        args.seed,
        args.meld_per_class,
        args.text_layers,
        args.sst2_sentences,
        face_regions=args.face_regions,
        emodb_weight=args.emodb_weight,
        tone_layer=args.tone_layer,
    )
    print(
        f"corpus in {out}: {summary['clips']} clips, face detection "
        f"{summary['face_detection_rate']:.1%} of {summary['face_images']} images"
    )
    if args.report:
        from recipes.demo_corpus.report import report

        results, markdown = report(out, data, args.seed, args.report)
        print(markdown)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0
