"""A fuzzykv store split over Ray actors: ``pip install "fuzzykv[ray]"``.

Keys are partitioned by a stable hash across shard actors, each holding one
:class:`~fuzzykv.Database` over its part (in memory, or in its own store file). A query is one call
per shard for the whole batch; each shard answers its exact softmax partial sums
(:class:`~fuzzykv.search.pipeline.Part`), and the driver merges them by log-sum-exp and decodes once, so a
sharded store answers as one ``Database`` holding the same pairs. The core never imports this
package (nor Ray).
"""

from __future__ import annotations

from ..errors import ShardUnavailableError

try:
    import ray  # noqa: F401
except ImportError as error:  # the core never needs ray; this package is the [ray] extra
    raise ImportError(
        "fuzzykv.distributed needs Ray, which the core install leaves out: pip install 'fuzzykv[ray]'", name=error.name
    ) from error

from .layout import MANIFEST, Manifest, shard_of  # noqa: E402
from .sharded import ShardedDatabase  # noqa: E402

__all__ = ["MANIFEST", "Manifest", "ShardUnavailableError", "ShardedDatabase", "shard_of"]
