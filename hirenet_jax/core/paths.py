"""Where the project caches what it builds once: prepared datasets, compiled programs and
the generated default corpora all live under one root, moved as a whole by $HIRENET_CACHE."""

from __future__ import annotations

import os

CACHE_ENV = 'HIRENET_CACHE'


def cache_root() -> str:
  """$HIRENET_CACHE, else ~/.cache/hirenet_jax (read at each call, so tests can move it)."""
  return os.environ.get(CACHE_ENV) or os.path.join(
      os.path.expanduser('~'), '.cache', 'hirenet_jax')
