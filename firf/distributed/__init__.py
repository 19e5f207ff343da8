"""Scale-out on Ray: the only part of firf that imports ``ray`` (an optional extra).

Why a separate package: Ray is large and optional (``pip install -e ".[distributed]"``), so the
CLI imports this package only when ``--ray`` is given, and everything else runs without it.

- ``actors.map_on_actors``: items through a pool of actors that each build their models once
  (extraction and batch scoring), results streamed back in input order.
- ``replicates.run_replicates``: independent functions as Ray tasks, each finished result
  cached on disk so an interrupted run redoes only what was not finished.
"""
