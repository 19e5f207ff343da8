"""Several FIRF seeds of one recipe, trained apart, combined into one checkpoint.

Where the data is thin, seeds of the same recipe disagree more than versions of the recipe do:
on the demo corpus, three seeds read one EmoDB speaker's voice at 0.59-0.80 balanced accuracy
and CK+'s validation faces at 0.91-0.98 (benchmarks/demo_checkpoint.md). A checkpoint that is
one seed ships that seed's luck; the mean of several seeds' scores depends on none of them.
The combined model is a ``FIRF`` whose config says how many ``members`` it holds; it saves,
loads and predicts like any FIRF and refuses to be trained as a whole.
"""

import dataclasses
from collections.abc import Sequence

from firf.errors import InputError
from firf.model.firf import FIRF


def combine_members(members: Sequence[FIRF]) -> FIRF:
    """One FIRF holding ``members``' weights (same architecture and features), in eval mode."""
    if not members:
        raise InputError("combining needs at least one trained FIRF")
    if not all(isinstance(m, FIRF) for m in members):
        kinds = ", ".join(sorted({type(m).__name__ for m in members}))
        raise InputError(f"only FIRF models combine into one checkpoint, got {kinds}")
    configs = [dataclasses.asdict(m.config) for m in members]
    differing = sorted(k for k in configs[0] if any(c[k] != configs[0][k] for c in configs))
    if differing:
        raise InputError(
            f"the models differ in {differing}: combine seeds of one architecture trained on "
            "the same features"
        )
    if members[0].config.members != 1:
        raise InputError("combine single seeds, not checkpoints that already hold several")
    combined = FIRF(dataclasses.replace(members[0].config, members=len(members)))
    state = dict(members[0].state_dict())
    for i, member in enumerate(members[1:]):
        state.update({f"other_members.{i}.{k}": v for k, v in member.state_dict().items()})
    combined.load_state_dict(state, strict=True)
    return combined.eval()
