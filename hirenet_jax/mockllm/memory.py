"""Reflection memories of one side (eq 12-17): per owner (an interviewer, i.e. a job, or a
candidate), its current strategy and its own matched cases, M^(i_k) or M^(c_l).

A case is written to the memory of each party of a matched interview only (eq 13, 15),
and a prompt retrieves the k cases of its owner's memory most similar to the other
party's document (eq 16-17): an interviewer compares the new resume with the resumes of
its own past matches, a candidate the new job with its own past matched jobs. An owner
without a match yet has no cases: its prompts carry none and its strategy is m_0.
Similarity is TF-IDF cosine over the owner's cases. The memory is built on the training
pairs, then frozen for validation and test.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from typing import Sequence

import numpy as np

from hirenet_jax.core import run_log
from hirenet_jax.mockllm.prompts import Case
from hirenet_jax.pjf.corpus import Turn

SIDES = ('interviewer', 'candidate')
_WORD = re.compile(r'[^\W\d_]+|\d+', re.UNICODE)
_CJK = re.compile(r'[\u3400-\u9fff]')


def terms(text: str) -> list[str]:
  """Lower-cased words; CJK runs split into characters (no segmenter needed to compare)."""
  out = []
  for word in _WORD.findall(text.lower()):
    out.extend(list(word) if _CJK.search(word) else [word])
  return out


@dataclasses.dataclass(frozen=True)
class StoredCase:
  owner_id: str   # the job (interviewer side) or candidate (candidate side) that reflected
  pair: str       # 'candidate_id|job_id' of the matched interview
  case: Case


class MemoryFrozenError(RuntimeError):
  """A case was added after the memory was frozen (validation or test pairs)."""


class ReflectionMemory:
  """One side's memories: each owner's strategy and matched cases."""

  def __init__(self, side: str, initial_strategy: str):
    if side not in SIDES:
      raise ValueError(f'unknown side {side!r}; expected one of {SIDES}')
    self.side = side
    self.initial_strategy = initial_strategy
    self.strategies: dict[str, str] = {}
    self.cases: list[StoredCase] = []  # Every owner's, in the order they were written.
    self.frozen = False
    self._index: dict[str, tuple[int, dict[str, int], np.ndarray, np.ndarray]] = {}

  def strategy(self, owner_id: str) -> str:
    """The owner's current strategy: m_0 until a match refines it."""
    return self.strategies.get(owner_id, self.initial_strategy)

  def cases_of(self, owner_id: str) -> list[StoredCase]:
    """The owner's memory, M^(i_k) or M^(c_l): its own matched cases, oldest first."""
    return [c for c in self.cases if c.owner_id == owner_id]

  def add(self, owner_id: str, pair: str, case: Case) -> None:
    """Stores a matched case in the owner's memory and makes its strategy the owner's
    current one (eq 12-15)."""
    if self.frozen:
      raise MemoryFrozenError(f'{self.side} memory is frozen; cannot add {pair}')
    self.strategies[owner_id] = case.strategy
    self.cases.append(StoredCase(owner_id, pair, case))

  def freeze(self) -> None:
    self.frozen = True

  def _vectors(self, owner_id: str, owned: list[StoredCase]
               ) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """(vocabulary, idf, unit-norm TF-IDF rows) of the owner's cases, rebuilt when the
    owner's memory grew."""
    cached = self._index.get(owner_id)
    if cached is None or cached[0] != len(owned):
      docs = [terms(c.case.document) for c in owned]
      vocab: dict[str, int] = {}
      for doc in docs:
        for t in doc:
          vocab.setdefault(t, len(vocab))
      df = np.zeros(len(vocab))
      for doc in docs:
        df[[vocab[t] for t in set(doc)]] += 1
      idf = np.log((1 + len(docs)) / (1 + df)) + 1.0  # scikit-learn's smooth idf.
      rows = np.stack([self._embed(doc, vocab, idf) for doc in docs])
      cached = self._index[owner_id] = (len(owned), vocab, idf, rows)
    return cached[1], cached[2], cached[3]

  @staticmethod
  def _embed(doc: Sequence[str], vocab: dict[str, int], idf: np.ndarray) -> np.ndarray:
    v = np.zeros(len(vocab))
    for t in doc:
      if t in vocab:
        v[vocab[t]] += 1
    v *= idf
    norm = math.sqrt(float(v @ v))
    return v / norm if norm else v

  def retrieve(self, owner_id: str, document: str, k: int) -> list[StoredCase]:
    """The k cases of the owner's memory whose document is most similar to `document`
    (eq 16-17); ties go to the earlier case. Fewer when the owner has fewer, none before
    its first match."""
    owned = self.cases_of(owner_id)
    if k <= 0 or not owned:
      return []
    vocab, idf, rows = self._vectors(owner_id, owned)
    sims = rows @ self._embed(terms(document), vocab, idf)
    order = np.lexsort((np.arange(len(sims)), -sims))[:k]
    return [owned[i] for i in order]

  # ---------------------------------------------------------------- persistence

  def to_json(self) -> dict:
    return {
        'side': self.side, 'initial_strategy': self.initial_strategy,
        'frozen': self.frozen, 'strategies': self.strategies,
        'cases': [{'owner_id': c.owner_id, 'pair': c.pair, 'document': c.case.document,
                   'dialogue': [[t.question, t.answer] for t in c.case.dialogue],
                   'strategy': c.case.strategy} for c in self.cases]}

  @classmethod
  def from_json(cls, data: dict) -> 'ReflectionMemory':
    memory = cls(data['side'], data['initial_strategy'])
    memory.strategies = dict(data['strategies'])
    memory.cases = [StoredCase(c['owner_id'], c['pair'], Case(
        c['document'], tuple(Turn(q, a) for q, a in c['dialogue']), c['strategy']))
                    for c in data['cases']]
    memory.frozen = bool(data['frozen'])
    return memory

  def save(self, directory: str) -> str:
    """Writes `{directory}/{side}.json` atomically, so a killed run never leaves half."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f'{self.side}.json')
    run_log.write_json(path, self.to_json(), indent=1, sort_keys=False, ensure_ascii=False)
    return path

  @classmethod
  def load(cls, directory: str, side: str) -> 'ReflectionMemory | None':
    path = os.path.join(directory, f'{side}.json')
    if not os.path.exists(path):
      return None
    with open(path, encoding='utf-8') as f:
      return cls.from_json(json.load(f))
