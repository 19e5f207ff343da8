"""Datasets of precomputed features: MMSA pickles, feature shards and the synthetic benchmark."""

from firf.data.dataset import FeatureDataset, collate, make_loader
from firf.data.mmsa import load_mmsa
from firf.data.shards import ShardWriter, load_shards
from firf.data.synthetic import SyntheticConfig, make_synthetic

__all__ = [
    "FeatureDataset",
    "ShardWriter",
    "SyntheticConfig",
    "collate",
    "load_mmsa",
    "load_shards",
    "make_loader",
    "make_synthetic",
]
