"""The synthetic robustness benchmark: tracks, the replicate protocol, linear ceilings, probes."""
