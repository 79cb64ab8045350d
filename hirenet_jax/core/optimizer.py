"""The optimizer of both systems: Adam(W) with global-norm clipping and a warmup +
constant / cosine / linear learning-rate schedule; frozen parameters get no update."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import ml_collections
import optax


def make_schedule(config: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
  """Learning rate per step: linear warmup, then constant, cosine or linear decay."""
  lr, warmup = config.learning_rate, config.warmup_steps
  end = lr * config.end_learning_rate_factor
  decay_steps = max(total_steps - warmup, 1)
  if config.schedule == 'constant':
    main = optax.constant_schedule(lr)
  elif config.schedule == 'cosine':
    main = optax.cosine_decay_schedule(lr, decay_steps, alpha=config.end_learning_rate_factor)
  else:
    main = optax.linear_schedule(lr, end, decay_steps)
  if warmup <= 0:
    return main
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), main], [warmup])


def make_optimizer(config: ml_collections.ConfigDict, params: Any, total_steps: int, *,
                   frozen: Sequence[str] = ()) -> optax.GradientTransformation:
  """Adam (AdamW with `weight_decay` > 0) with global-norm clipping; the top-level
  parameter collections named in `frozen` (e.g. a pretrained embedding table) get no
  state, no update. The caller decides what is frozen."""
  weight_decay = config.get('weight_decay', 0.0)
  if weight_decay > 0:
    tx = optax.adamw(make_schedule(config, total_steps), b1=config.adam_b1,
                     b2=config.adam_b2, eps=config.adam_eps, weight_decay=weight_decay)
  else:
    tx = optax.adam(make_schedule(config, total_steps), b1=config.adam_b1,
                    b2=config.adam_b2, eps=config.adam_eps)
  if config.grad_clip_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), tx)
  frozen = {k for k in frozen if k in params}
  if not frozen:
    return tx
  labels = {k: jax.tree.map(lambda _, k=k: 'frozen' if k in frozen else 'trained', v)
            for k, v in params.items()}
  return optax.multi_transform({'trained': tx, 'frozen': optax.set_to_zero()}, labels)
