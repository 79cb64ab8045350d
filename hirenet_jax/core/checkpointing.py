"""Orbax checkpoints of a training run: periodic ones for resuming, one for the best model.

`{workdir}/checkpoints/` holds the latest few checkpoints (auto-resume, nanodo
`_get_ckpt_manager`); `{workdir}/best/` holds only the checkpoint with the best
validation F1 (model selection as in the paper; evaluated on test and used by predict).
Each checkpoint has two items: `state` (a pytree of arrays: params, opt_state, step, rng)
and `meta` (JSON: data iterator position, best F1 and threshold, early-stopping counter).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

LATEST_DIR = 'checkpoints'
BEST_DIR = 'best'


def _manager(directory: str, max_to_keep: int, use_async: bool) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep, create=True, enable_async_checkpointing=use_async,
      cleanup_tmp_directories=True)
  return ocp.CheckpointManager(os.path.abspath(directory), options=options,
                               item_names=('state', 'meta'))


def _abstract(tree: Any) -> Any:
  """Shapes, dtypes and shardings of `tree`, the restore target."""
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


class Checkpointer:
  """The run's two checkpoint managers (latest and best)."""

  def __init__(self, workdir: str, *, max_to_keep: int = 2, use_async: bool = True):
    self._latest = _manager(os.path.join(workdir, LATEST_DIR), max_to_keep, use_async)
    self._best = _manager(os.path.join(workdir, BEST_DIR), 1, use_async)

  def _save(self, manager, step: int, state: Any, meta: dict) -> None:
    manager.save(int(step), args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)), force=True)

  def _restore(self, manager, step: int | None, like: Any) -> tuple[Any, dict] | None:
    step = manager.latest_step() if step is None else step
    if step is None:
      return None
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(_abstract(like)), meta=ocp.args.JsonRestore()))
    return restored.state, dict(restored.meta)

  def save_latest(self, step: int, state: Any, meta: dict) -> None:
    """Periodic checkpoint (state + iterator position), for resuming."""
    self._save(self._latest, step, state, meta)

  def save_best(self, step: int, state: Any, meta: dict) -> None:
    """Replaces the best checkpoint (call only on a new best validation F1)."""
    self._save(self._best, step, state, meta)

  def latest_step(self) -> int | None:
    return self._latest.latest_step()

  def best_step(self) -> int | None:
    return self._best.latest_step()

  def restore_latest(self, like: Any) -> tuple[Any, dict] | None:
    """(state, meta) of the latest checkpoint, placed like `like`; None if there is none."""
    return self._restore(self._latest, None, like)

  def restore_best(self, like: Any) -> tuple[Any, dict] | None:
    """(state, meta) of the best checkpoint; None if there is none."""
    return self._restore(self._best, None, like)

  def wait(self) -> None:
    """Blocks until pending asynchronous saves are on disk."""
    self._latest.wait_until_finished()
    self._best.wait_until_finished()

  def close(self) -> None:
    self._latest.close()
    self._best.close()


def restore_best(workdir: str, like: Any) -> tuple[Any, dict]:
  """The best checkpoint of a finished run (predict); raises FileNotFoundError if none."""
  ckpt = Checkpointer(workdir, use_async=False)
  try:
    restored = ckpt.restore_best(like)
  finally:
    ckpt.close()
  if restored is None:
    raise FileNotFoundError(f'no best checkpoint under {os.path.join(workdir, BEST_DIR)}')
  return restored
