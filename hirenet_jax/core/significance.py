"""Paired significance tests of one system against another on the same test items.

- `sign_flip_test`: a metric that is a mean over groups (per-job or per-candidate NDCG@5).
  Under the null hypothesis each group's difference a_g - b_g is as likely to have either
  sign, so the p-value is the share of the 2^G sign assignments whose |mean difference|
  reaches the observed one: exact up to `exact_max_items` groups, otherwise estimated
  from random assignments as (1 + hits) / (1 + samples) (Phipson and Smyth 2010), which
  never reports p = 0.
- `swap_test`: a metric that is not a mean over items (macro F1 of the handshake).
  Approximate randomisation (Noreen 1989; Yeh 2000): under the null the two systems'
  outputs for an item are exchangeable, so each item's pair of outputs is swapped or not,
  the metric recomputed on both sides, and the p-value counted the same way.
- `bootstrap_interval`: a percentile interval of the mean paired difference, resampling
  the groups with replacement, to print beside the p-value.

All two-sided; pure functions of their inputs and `seed`.
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np

_TOLERANCE = 1e-12  # Differences equal up to rounding count as reaching the observed one.


def _signs(n: int, exact_max_items: int, num_samples: int, seed: int
           ) -> tuple[np.ndarray, bool]:
  """(signs_SxN in {-1, +1}, exact): every assignment when n is small, else samples."""
  if n <= exact_max_items:
    return np.asarray(list(itertools.product((1.0, -1.0), repeat=n))).reshape(-1, n), True
  rng = np.random.default_rng(seed)
  return rng.choice((1.0, -1.0), size=(num_samples, n)), False


def _p_value(null_S: np.ndarray, observed: float, exact: bool) -> float:
  hits = int((np.abs(null_S) >= abs(observed) - _TOLERANCE).sum())
  return hits / null_S.size if exact else (1 + hits) / (1 + null_S.size)


def sign_flip_test(a_G: Sequence[float], b_G: Sequence[float], *, num_samples: int = 20000,
                   seed: int = 0, exact_max_items: int = 16) -> dict:
  """Paired test of mean(a - b) = 0 over G groups (module docstring).

  Returns {'difference': mean(a - b), 'p_value', 'num_groups', 'exact'}.
  """
  a_G, b_G = np.asarray(a_G, np.float64), np.asarray(b_G, np.float64)
  if a_G.shape != b_G.shape or a_G.ndim != 1:
    raise ValueError(f'need two equal-length vectors, got {a_G.shape} and {b_G.shape}')
  if not a_G.size:
    raise ValueError('no groups to compare')
  d_G = a_G - b_G
  signs_SxG, exact = _signs(d_G.size, exact_max_items, num_samples, seed)
  null_S = (signs_SxG * d_G).mean(axis=1)
  return {'difference': float(d_G.mean()), 'p_value': _p_value(null_S, d_G.mean(), exact),
          'num_groups': int(d_G.size), 'exact': exact}


def swap_test(metric: Callable[[np.ndarray, np.ndarray], float], labels_N: Sequence[int],
              a_N: Sequence[float], b_N: Sequence[float], *, num_samples: int = 5000,
              seed: int = 0, exact_max_items: int = 16) -> dict:
  """Paired approximate-randomisation test of metric(labels, a) = metric(labels, b).

  `metric(labels_N, outputs_N) -> float`, e.g. the macro F1 of decisions. Returns
  {'difference': metric(a) - metric(b), 'p_value', 'num_items', 'exact'}.
  """
  labels_N = np.asarray(labels_N)
  a_N, b_N = np.asarray(a_N), np.asarray(b_N)
  if not labels_N.shape == a_N.shape == b_N.shape or labels_N.ndim != 1:
    raise ValueError(f'need equal-length vectors, got {labels_N.shape}, {a_N.shape} and '
                     f'{b_N.shape}')
  observed = metric(labels_N, a_N) - metric(labels_N, b_N)
  exact = labels_N.size <= exact_max_items
  if exact:
    swaps = (np.asarray(s) for s in itertools.product((False, True), repeat=labels_N.size))
  else:
    rng = np.random.default_rng(seed)
    swaps = (rng.random(labels_N.size) < 0.5 for _ in range(num_samples))
  null = []
  for swap_N in swaps:
    x_N, y_N = np.where(swap_N, b_N, a_N), np.where(swap_N, a_N, b_N)
    null.append(metric(labels_N, x_N) - metric(labels_N, y_N))
  return {'difference': float(observed),
          'p_value': _p_value(np.asarray(null), observed, exact),
          'num_items': int(labels_N.size), 'exact': exact}


def bootstrap_interval(a_G: Sequence[float], b_G: Sequence[float], *, level: float = 0.95,
                       num_samples: int = 10000, seed: int = 0) -> tuple[float, float]:
  """Percentile interval of mean(a - b), resampling the G groups with replacement."""
  d_G = np.asarray(a_G, np.float64) - np.asarray(b_G, np.float64)
  if not d_G.size:
    raise ValueError('no groups to compare')
  rng = np.random.default_rng(seed)
  means_S = d_G[rng.integers(0, d_G.size, size=(num_samples, d_G.size))].mean(axis=1)
  tail = (1 - level) / 2
  return float(np.quantile(means_S, tail)), float(np.quantile(means_S, 1 - tail))
