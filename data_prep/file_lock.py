"""Where generated default corpora are cached, and the lock that lets concurrent commands
(pytest-xdist workers, two terminals) build one only once."""

from __future__ import annotations

import contextlib
import fcntl
import os


def cache_root() -> str:
  """$HIRENET_CACHE, else ~/.cache/hirenet_jax."""
  return os.environ.get('HIRENET_CACHE') or os.path.join(
      os.path.expanduser('~'), '.cache', 'hirenet_jax')


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
