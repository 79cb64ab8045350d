"""Attention analysis as in the paper's "Attention visualization" section.

Pure functions over attention weights; no model, no I/O. Conventions:
- `alpha` are low-level (word or frame) weights of one answer, summing to 1 over its
  valid steps; `beta` are high-level weights of one interview, summing to 1 over its
  answers.
- Relative attention multiplies a weight by the number of elements it is spread over,
  so 1 means "as much as a uniform reader would give" whatever the answer length.
- Word importance is sqrt(p_q * p_w), the geometric mean of the relative question and
  relative word attention (paper, text modality).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Iterable, Sequence

import numpy as np
from scipy import signal


def relative_attention(weights: Sequence[float]) -> np.ndarray:
  """alpha_t * n (n = number of elements the weights are spread over)."""
  weights = np.asarray(weights, np.float64)
  return weights * weights.shape[-1]


def word_importance(question_weight_relative: float,
                    word_weights_relative: Sequence[float]) -> np.ndarray:
  """sqrt(p_q * p_w) for every word of an answer."""
  return np.sqrt(question_weight_relative * np.asarray(word_weights_relative, np.float64))


@dataclasses.dataclass(frozen=True)
class WordScore:
  word: str
  importance: float  # Mean word importance over its occurrences.
  count: int


def top_words(interviews: Iterable[tuple[Sequence[float], Sequence[Sequence[float]],
                                         Sequence[Sequence[str]]]],
              k: int = 20, min_count: int = 5) -> list[WordScore]:
  """The k words of highest mean importance over a set of interviews.

  Args:
    interviews: per interview (question weights [Q], word weights per answer,
      words per answer); answers with no word are skipped.
    k: how many words to return.
    min_count: ignore words seen fewer times (rare words have noisy means).
  """
  sums: dict[str, float] = collections.defaultdict(float)
  counts: dict[str, int] = collections.Counter()
  for beta, alphas, words in interviews:
    p_q = relative_attention(beta)
    for i, (alpha, answer_words) in enumerate(zip(alphas, words)):
      if not len(answer_words):
        continue
      if len(alpha) != len(answer_words):
        raise ValueError(f'answer {i}: {len(alpha)} weights for {len(answer_words)} words')
      for word, value in zip(answer_words, word_importance(p_q[i], relative_attention(alpha))):
        sums[word] += float(value)
        counts[word] += 1
  scored = [WordScore(w, sums[w] / counts[w], counts[w]) for w in sums if counts[w] >= min_count]
  scored.sort(key=lambda s: (-s.importance, s.word))
  return scored[:k]


@dataclasses.dataclass(frozen=True)
class Peak:
  frame: int
  time_s: float
  weight: float
  start_s: float  # Span where the curve stays above half the peak height.
  end_s: float


def attention_peaks(weights: Sequence[float], frame_rate: float, num_peaks: int = 3,
                    min_distance_s: float = 1.0) -> list[Peak]:
  """The highest local maxima of an attention curve over time (paper Figure 2).

  Args:
    weights: per-frame attention of one answer (valid frames only).
    frame_rate: frames per second of the weights.
    num_peaks: how many peaks to return, highest first.
    min_distance_s: peaks closer than this are merged into the higher one.
  """
  curve = np.asarray(weights, np.float64)
  if curve.size == 0:
    return []
  distance = max(1, int(round(min_distance_s * frame_rate)))
  padded = np.concatenate([[0.0], curve, [0.0]])  # Weights are >= 0: edges can peak.
  indices, _ = signal.find_peaks(padded, distance=distance)
  indices = indices - 1
  if indices.size == 0:
    indices = np.array([int(np.argmax(curve))])
  indices = indices[np.argsort(-curve[indices], kind='stable')][:num_peaks]
  _, _, left, right = signal.peak_widths(padded, indices + 1, rel_height=0.5)
  peaks = []
  for idx, lo, hi in zip(indices, left - 1, right - 1):
    lo, hi = max(lo, 0.0), min(hi, curve.size - 1.0)
    peaks.append(Peak(frame=int(idx), time_s=idx / frame_rate, weight=float(curve[idx]),
                      start_s=lo / frame_rate, end_s=(hi + 1) / frame_rate))
  return peaks


def _peak_credit(weights: np.ndarray, targets: np.ndarray) -> float:
  """Share of the argmax positions (ties included) that are targets: a flat curve scores
  its chance level instead of whatever its first element is."""
  top = np.flatnonzero(weights >= weights.max() - 1e-7 * max(abs(weights.max()), 1e-30))
  return float(targets[top].mean())


@dataclasses.dataclass(frozen=True)
class HitRate:
  hits: float  # Ties at the peak give fractional credit.
  total: int
  chance: float  # Expected hit rate of a peak placed uniformly at random.

  @property
  def rate(self) -> float:
    return self.hits / self.total if self.total else float('nan')

  def as_dict(self) -> dict:
    return {'hits': self.hits, 'total': self.total, 'rate': self.rate,
            'chance': self.chance}


def span_hit_rate(curves: Sequence[Sequence[float]],
                  spans: Sequence[Sequence[tuple[float, float]]],
                  frame_rate: float = 1.0) -> HitRate:
  """Share of answers whose attention peak (argmax; ties share the credit) falls inside a
  salient span.

  Args:
    curves: per answer, its attention weights over valid steps.
    spans: per answer, the ground-truth salient spans [start, end) in the units of
      `frame_rate` (frame_rate=1: word indices; otherwise seconds).
    frame_rate: steps per unit of the spans.

  The chance level is the covered fraction of each answer, averaged: what a peak placed
  uniformly at random would score.
  """
  hits, chance = 0.0, 0.0
  if len(curves) != len(spans):
    raise ValueError(f'{len(curves)} curves for {len(spans)} span lists')
  for curve, answer_spans in zip(curves, spans):
    curve = np.asarray(curve)
    n = curve.size
    covered = np.zeros(n, bool)
    for start, end in answer_spans:
      lo = max(int(np.floor(start * frame_rate)), 0)
      hi = min(int(np.ceil(end * frame_rate)), n)
      covered[lo:hi] = True
    if n:
      hits += _peak_credit(curve, covered)
      chance += covered.mean()
  total = len(curves)
  return HitRate(hits=hits, total=total, chance=chance / total if total else float('nan'))


def question_hit_rate(question_weights: Sequence[Sequence[float]],
                      key_answers: Sequence[Sequence[int]]) -> HitRate:
  """Share of interviews whose most attended answer is one of their key answers.

  Chance: number of key answers / number of answers, averaged over interviews.
  """
  hits, chance, total = 0.0, 0.0, 0
  for beta, keys in zip(question_weights, key_answers):
    beta = np.asarray(beta, np.float64)
    if beta.size == 0 or not len(keys):
      continue
    total += 1
    is_key = np.zeros(beta.size, bool)
    is_key[list(keys)] = True
    hits += _peak_credit(beta, is_key)
    chance += len(set(keys)) / beta.size
  return HitRate(hits=hits, total=total, chance=chance / total if total else float('nan'))


def mean_question_attention(
    records: Iterable[tuple[str, Sequence[str], Sequence[float]]]
) -> dict[str, dict[str, float]]:
  """Per position, the attention per question averaged over its candidates (Figure 3).

  Args:
    records: (position_id, question texts, question weights) per candidate.

  Returns:
    {position_id: {question: mean weight}} in first-seen question order.
  """
  sums: dict[str, dict[str, list[float]]] = {}
  for position, questions, beta in records:
    per_q = sums.setdefault(position, {})
    for question, weight in zip(questions, beta):
      per_q.setdefault(question, []).append(float(weight))
  return {p: {q: float(np.mean(v)) for q, v in qs.items()} for p, qs in sums.items()}
