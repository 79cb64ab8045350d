"""HireNet's counterfactual probe (docs/fairness.md): the same interviews scored with
every gendered form and first name in the feminine and then in the masculine, paired score differences
with a bootstrap interval, and the attention the marker words receive.

The scorer and tokenizer are passed in (experiments.audit gives the run's checkpoint
through experiments.common.score_corpus and data_prep's tokenizer), so this module reads
only interviews.jsonl and writes only the two swapped copies.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from hirenet_jax.core import counterfactual
from hirenet_jax.core import fairness
from hirenet_jax.core import run_log

MARKERS = frozenset(w.lower() for pair in counterfactual.FRENCH_GENDERED
                    + counterfactual.FRENCH_NAMES for w in pair)  # As tokenized.


def read_records(corpus_dir: str) -> list[dict]:
  with open(os.path.join(corpus_dir, 'interviews.jsonl'), encoding='utf-8') as f:
    return [json.loads(line) for line in f if line.strip()]


def swapped_records(records: Iterable[dict], to: str,
                    swap: Callable[[str, str], str] = counterfactual.french_gender
                    ) -> list[dict]:
  """Text-only copies of `records` with every transcript's gendered forms turned `to`
  ('f' or 'm'); everything else (ids, labels, questions, attributes) unchanged."""
  out = []
  for r in records:
    answers = [dict(a, transcript=swap(a['transcript'], to) if a.get('transcript') else
                    a.get('transcript'), audio=None, video=None) for a in r['answers']]
    out.append(dict(r, answers=answers))
  return out


def marker_attention(row: Mapping, transcripts: Sequence[str | None],
                     tokenize: Callable[[str], list[str]],
                     markers: frozenset = MARKERS) -> tuple[float, float] | None:
  """(attention share of the marker words, its chance level) in one scored interview:
  sum over answers of beta_q * (alpha on markers) against beta_q * markers / words.
  None when no attended answer holds a marker (or the words do not line up)."""
  share = chance = 0.0
  found = False
  for beta, alpha, index in zip(row['question_attention'], row['answer_attention'],
                                row['answer_index']):
    text = transcripts[index] if index < len(transcripts) else None
    if not text:
      continue
    words = tokenize(text)
    if len(words) != len(alpha):
      return None
    is_marker = np.array([w in markers for w in words])
    if is_marker.any():
      found = True
    share += beta * float(np.asarray(alpha)[is_marker].sum())
    chance += beta * float(is_marker.mean())
  return (share, chance) if found else None


def probe(corpus_dir: str, candidate_ids: Sequence[str],
          score: Callable[[str], list[dict]], tokenize: Callable[[str], list[str]],
          out_dir: str, *, num_bootstrap: int = 2000, seed: int = 0) -> dict:
  """Scores `candidate_ids` of the corpus in both grammatical genders (`score(dir)` ->
  rows with candidate_id, score, question/answer attention, answer_index) and pairs them.

  Returns `difference` (mean score as feminine - as masculine, with interval and the
  share of candidates whose score moved), `attention` (mean share of attention on marker
  words and its chance level, over both versions) and `n`.
  """
  wanted = set(candidate_ids)
  records = [r for r in read_records(corpus_dir) if r['candidate_id'] in wanted and any(
      counterfactual.has_markers(a.get('transcript') or '', 'fr') for a in r['answers'])]
  if not records:
    raise ValueError(f'{corpus_dir}: no interview of these candidates has a gendered form')
  scored, shares = {}, []
  for to in ('f', 'm'):
    version = swapped_records(records, to)
    folder = os.path.join(out_dir, f'as_{to}')
    os.makedirs(folder, exist_ok=True)
    run_log.write_jsonl(os.path.join(folder, 'interviews.jsonl'), version)
    transcripts = {r['candidate_id']: [a.get('transcript') for a in r['answers']]
                   for r in version}
    rows = {row['candidate_id']: row for row in score(folder)}
    scored[to] = rows
    for cid, row in rows.items():
      found = marker_attention(row, transcripts[cid], tokenize)
      if found:
        shares.append(found)
  common = sorted(set(scored['f']) & set(scored['m']))
  diff = fairness.paired_difference([scored['f'][c]['score'] for c in common],
                                    [scored['m'][c]['score'] for c in common],
                                    num_bootstrap=num_bootstrap, seed=seed)
  share = np.array(shares) if shares else np.full((1, 2), np.nan)
  return {'n': len(common), 'difference': diff,
          'attention': {'marker_share': float(share[:, 0].mean()),
                        'chance_share': float(share[:, 1].mean()),
                        'interviews': len(shares)}}
