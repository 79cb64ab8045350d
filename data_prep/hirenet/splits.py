"""Train/validation/test splits: 80/10/10 by candidate (stratified), by position, or as
each record gives it (`given`: a corpus made from another one's splits, e.g. MockLLM's
generated interviews, keeps them). `auto` (the default) is `given` when every record
gives one, else `by_candidate`: a corpus that ships its splits (one keeping each speaker
in one split) is not silently re-split across them.

Splits are computed once per corpus from the structurally valid candidates, before any
modality drops answers, so a candidate is in the same split for text, audio and video
(late fusion needs aligned test sets).
"""

from __future__ import annotations

import collections
from typing import Sequence

import numpy as np

from hirenet_jax.hirenet.dataset_spec import SPLITS

FRACTIONS = (0.8, 0.1, 0.1)
METHODS = ('auto', 'by_candidate', 'by_position', 'given')


def _counts(n: int, fractions: Sequence[float]) -> list[int]:
  """Sizes summing to n, rounding the cumulative fractions."""
  edges = np.round(np.cumsum(fractions) * n).astype(int)
  edges[-1] = n
  return list(np.diff(np.concatenate([[0], edges])))


def split_by_candidate(candidate_ids: Sequence[str], labels: Sequence[int], *,
                       seed: int, fractions: Sequence[float] = FRACTIONS
                       ) -> dict[str, str]:
  """candidate_id -> split, stratified by label, deterministic for a seed."""
  by_label = collections.defaultdict(list)
  for cid, label in zip(candidate_ids, labels):
    by_label[int(label)].append(cid)
  assignment = {}
  for label in sorted(by_label):
    ids = sorted(by_label[label])
    rng = np.random.default_rng([seed, label])
    ids = [ids[i] for i in rng.permutation(len(ids))]
    start = 0
    for split, n in zip(SPLITS, _counts(len(ids), fractions)):
      for cid in ids[start:start + n]:
        assignment[cid] = split
      start += n
  return assignment


def split_by_position(candidate_ids: Sequence[str], position_ids: Sequence[str], *,
                      seed: int, fractions: Sequence[float] = FRACTIONS
                      ) -> dict[str, str]:
  """candidate_id -> split holding out whole positions.

  Positions are shuffled with the seed and filled greedily into the split that is
  furthest below its target share of candidates, so split sizes approach 80/10/10 of
  candidates (exactly only as far as position sizes allow).
  """
  members = collections.defaultdict(list)
  for cid, pos in zip(candidate_ids, position_ids):
    members[pos].append(cid)
  positions = sorted(members)
  rng = np.random.default_rng([seed, 1])
  positions = [positions[i] for i in rng.permutation(len(positions))]
  total = len(candidate_ids)
  filled = dict.fromkeys(SPLITS, 0)
  assignment = {}
  # Give each split a first position (when there are enough) so none is empty.
  for k, pos in enumerate(positions):
    if k < len(SPLITS) and len(positions) >= len(SPLITS):
      split = SPLITS[k]
    else:
      deficits = [f * total - filled[s] for s, f in zip(SPLITS, fractions)]
      split = SPLITS[int(np.argmax(deficits))]
    for cid in members[pos]:
      assignment[cid] = split
    filled[split] += len(members[pos])
  return assignment


def resolve_method(method: str, given: Sequence[str | None]) -> str:
  """`method`, with 'auto' resolved against the records' own splits `given`."""
  if method != 'auto':
    return method
  return 'given' if len(given) and all(s is not None for s in given) else 'by_candidate'


def make_splits(candidate_ids: Sequence[str], labels: Sequence[int],
                position_ids: Sequence[str], *, method: str, seed: int,
                given: Sequence[str | None] = ()) -> dict[str, str]:
  """candidate_id -> split; `given` holds each record's own split (methods 'given' and
  'auto')."""
  method = resolve_method(method, given)
  if method == 'given':
    missing = [cid for cid, split in zip(candidate_ids, given) if split is None]
    if missing or len(given) != len(candidate_ids):
      raise ValueError(f'--split=given needs a "split" on every line; {len(missing)} lines '
                       f'have none (first: {", ".join(missing[:3])})')
    return dict(zip(candidate_ids, given))
  if method == 'by_candidate':
    return split_by_candidate(candidate_ids, labels, seed=seed)
  if method == 'by_position':
    return split_by_position(candidate_ids, position_ids, seed=seed)
  raise ValueError(f'unknown split method {method!r} (expected one of {METHODS})')
