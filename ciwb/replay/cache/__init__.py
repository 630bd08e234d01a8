"""Build caches for replays: `none`, `local` (host dir per project), `s3` (tar + zstd in S3).

The runner calls `cache.restore(spec, src_dir=..., env=...)` before INSTALL and
`cache.save(...)` after the build; each returns a result with its seconds and bytes.
"""

from ciwb.replay.cache.base import (
    Cache,
    NoCache,
    RestoreResult,
    SaveResult,
)
from ciwb.replay.cache.keys import cache_version, expand_key, hash_files
from ciwb.replay.cache.local import LocalCache
from ciwb.replay.cache.registry import cache_names, get_cache, register_cache
from ciwb.replay.cache.s3 import S3Cache

__all__ = [
    "Cache",
    "LocalCache",
    "NoCache",
    "RestoreResult",
    "S3Cache",
    "SaveResult",
    "cache_names",
    "cache_version",
    "expand_key",
    "get_cache",
    "hash_files",
    "register_cache",
]
