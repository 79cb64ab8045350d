"""One cache root: $HIRENET_CACHE moves every default cache path of every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The commands' cache flags take their defaults when experiments.common is imported: read
# them in a fresh process, under the environment given.
_FLAG_DEFAULTS = ('import json; from experiments import common; print(json.dumps('
                  '[common.JAX_CACHE_DIR.default, common.PREPARED_CACHE_DIR.default]))')


def default_cache_paths(env: dict) -> list[str]:
  """Every path a command caches into by default: the XLA cache, prepared datasets, the
  default HireNet and person-job-fit corpora and the robustness suite's corpora."""
  proc = subprocess.run([sys.executable, '-c', _FLAG_DEFAULTS], cwd=REPO, text=True,
                        capture_output=True, env=dict(env, PYTHONPATH=REPO), timeout=120)
  assert proc.returncode == 0, proc.stderr
  from data_prep.hirenet import corpus_suite  # pylint: disable=g-import-not-at-top
  from data_prep.hirenet import synthetic  # pylint: disable=g-import-not-at-top
  from data_prep.pjf import synthetic as pjf_synthetic  # pylint: disable=g-import-not-at-top
  return json.loads(proc.stdout) + [
      synthetic.default_cache_dir(), pjf_synthetic.default_corpus_dir(),
      *(corpus_suite.cache_dir(name) for name in corpus_suite.SUITE_NAMES)]


def test_hirenet_cache_moves_every_default_cache_path(tmp_path, monkeypatch):
  root = str(tmp_path / 'moved')
  monkeypatch.setenv('HIRENET_CACHE', root)
  moved = default_cache_paths(dict(os.environ))
  assert all(os.path.dirname(p) == root for p in moved), moved
  assert len(set(moved)) == len(moved)  # No two caches share a folder.


def test_without_hirenet_cache_every_path_is_under_home(tmp_path, monkeypatch):
  monkeypatch.delenv('HIRENET_CACHE', raising=False)
  monkeypatch.setenv('HOME', str(tmp_path))
  root = os.path.join(str(tmp_path), '.cache', 'hirenet_jax')
  paths = default_cache_paths(dict(os.environ))
  assert all(os.path.dirname(p) == root for p in paths), paths
