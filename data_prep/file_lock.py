"""The lock that lets concurrent commands (pytest-xdist workers, two terminals) build a
cached corpus only once (the cache's root is hirenet_jax.core.paths.cache_root)."""

from __future__ import annotations

import contextlib
import fcntl
import os


@contextlib.contextmanager
def file_lock(path: str):
  """An exclusive advisory lock on `path` (created if missing) for the `with` block."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'a') as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)
