"""From the judges' scores to decisions and Table 2's figures: E both ways (eq 7, 10)
with weights fit on the training pairs, handshake thresholds fit on validation (eq 11),
ranking metrics per side and macro P/R/F1 of the handshake. The held-out splits keep
every pair's E and handshake (`decisions`), which the significance tests pair up."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hirenet_jax.core import ranking
from hirenet_jax.mockllm import decisions
from hirenet_jax.mockllm.loop import Interview
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import SPLITS


def _scores(interviews: Sequence[Interview], key: str) -> np.ndarray:
  return np.asarray([i.scores[key] for i in interviews], np.float64)


def evaluate(interviews: Sequence[Interview], pairs: dict[tuple[str, str], Pair], *,
             use_dialogue: bool = True) -> tuple[dict, list[dict]]:
  """(results, one decision row per interview).

  `use_dialogue=False` is the ablation w/o MI: each side decides from the documents'
  scores S_r and S_j alone.
  """
  by_split = {s: [i for i in interviews if i.split == s] for s in SPLITS}
  labels = {s: [pairs[(i.candidate_id, i.job_id)] for i in by_split[s]] for s in SPLITS}
  train = by_split['train']
  if not train:
    raise ValueError('no interviews of training pairs: the weights cannot be fit')
  job_side = decisions.fit_side(_scores(train, 's_r'),
                                _scores(train, 's_q') if use_dialogue else None,
                                [p.job_accepts for p in labels['train']])
  candidate_side = decisions.fit_side(_scores(train, 's_j'),
                                      _scores(train, 's_a') if use_dialogue else None,
                                      [p.candidate_accepts for p in labels['train']])

  def both_e(items):
    return (job_side.evaluate(_scores(items, 's_r'), _scores(items, 's_q')),
            candidate_side.evaluate(_scores(items, 's_j'), _scores(items, 's_a')))

  e_job_val, e_cand_val = both_e(by_split['validation'])
  if by_split['validation']:
    t_job, t_cand, _ = ranking.select_handshake_thresholds(
        e_job_val, e_cand_val, [p.match for p in labels['validation']])
  else:
    t_job, t_cand = 0.5, 0.5
  results = {'weights': {'interviewer': vars(job_side), 'candidate': vars(candidate_side)},
             'thresholds': {'interviewer': t_job, 'candidate': t_cand},
             'use_dialogue': use_dialogue}
  rows = []
  for split in SPLITS:
    items, split_pairs = by_split[split], labels[split]
    if not items:
      continue
    e_job, e_cand = both_e(items)
    match = ranking.handshake(e_job, e_cand, t_job, t_cand)
    results[split] = {
        'num_pairs': len(items),
        'job': ranking.pjf_side_metrics(split_pairs, e_job, 'job'),
        'candidate': ranking.pjf_side_metrics(split_pairs, e_cand, 'candidate'),
        'handshake': ranking.macro_prf([p.match for p in split_pairs], match),
        'random': {side: ranking.pjf_random_metrics(split_pairs, side)
                   for side in ranking.SIDES}}
    if split != 'train':
      results[split]['decisions'] = {
          'candidate_id': [i.candidate_id for i in items],
          'job_id': [i.job_id for i in items],
          'e_interviewer': [float(x) for x in e_job],
          'e_candidate': [float(x) for x in e_cand],
          'handshake': [int(x) for x in match]}
    for item, pair, ej, ec, m in zip(items, split_pairs, e_job, e_cand, match):
      rows.append({'candidate_id': item.candidate_id, 'job_id': item.job_id,
                   'split': split, 'model': item.model, **item.scores, 'e_interviewer': float(ej),
                   'e_candidate': float(ec), 'handshake': int(m),
                   'job_accepts': pair.job_accepts,
                   'candidate_accepts': pair.candidate_accepts, 'match': pair.match})
  return results, rows


def table_row(name: str, results: dict, split: str = 'test') -> dict:
  """One Table 2 row: both sides' NDCG/R/P/MRR@5 (candidates first, as the paper's) and
  the handshake's macro P/R/F1."""
  r = results[split]
  row = {'model': name}
  for side in ('candidate', 'job'):
    for metric in ranking.metric_names():
      row[f'{side}_{metric}'] = r[side][metric]
  for metric in ('precision', 'recall', 'f1'):
    row[f'macro_{metric}'] = r['handshake'][metric]
  return row
