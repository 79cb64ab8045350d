"""Attention figures (paper Figures 2 and 3, and the top words), as PNG files."""

from __future__ import annotations

import base64
import io
from typing import Mapping, Sequence

import numpy as np

from hirenet_jax.hirenet.analysis import stats as attention_analysis


def _pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def _save(fig, path: str | None) -> str | None:
  """Writes `fig` to `path`, or returns it as base64 PNG when path is None."""
  plt = _pyplot()
  if path is None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode('ascii')
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return None


def attention_curve(weights: Sequence[float], frame_rate: float,
                    peaks: Sequence[attention_analysis.Peak], *, title: str = '',
                    spans: Sequence[tuple[float, float]] = (),
                    path: str | None = None) -> str | None:
  """Figure 2: relative attention over time (s) of one answer, its peaks marked.

  `spans` (seconds) are shaded, e.g. the planted salient spans of a synthetic corpus.
  Returns base64 PNG when `path` is None (for the HTML report).
  """
  plt = _pyplot()
  curve = attention_analysis.relative_attention(weights)
  t = np.arange(len(curve)) / frame_rate
  fig, ax = plt.subplots(figsize=(8, 2.6))
  ax.plot(t, curve, lw=1.0, color='tab:blue')
  for start, end in spans:
    ax.axvspan(start, end, color='tab:green', alpha=0.15)
  for rank, peak in enumerate(peaks):
    ax.axvspan(peak.start_s, peak.end_s, color='tab:red', alpha=0.12)
    ax.plot(peak.time_s, curve[peak.frame], 'v', color='tab:red')
    ax.annotate(f'{rank + 1}: {peak.time_s:.2f} s', (peak.time_s, curve[peak.frame]),
                textcoords='offset points', xytext=(4, 4), fontsize=8)
  ax.set_xlabel('time (s)')
  ax.set_ylabel('relative attention')
  ax.set_title(title, fontsize=10)
  fig.tight_layout()
  return _save(fig, path)


def question_attention_bars(per_modality: Mapping[str, Sequence[float]],
                            labels: Sequence[str], path: str, *, title: str = '') -> None:
  """Figure 3: mean attention per question of one position, one bar group per modality."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 3.6))
  width = 0.8 / max(len(per_modality), 1)
  x = np.arange(len(labels))
  for j, (modality, values) in enumerate(per_modality.items()):
    ax.bar(x + (j - (len(per_modality) - 1) / 2) * width, values, width, label=modality)
  ax.set_xticks(x, [l if len(l) < 38 else l[:35] + '...' for l in labels], rotation=20,
                ha='right', fontsize=8)
  ax.set_ylabel('mean question attention')
  ax.set_title(title, fontsize=10)
  ax.legend()
  fig.tight_layout()
  _save(fig, path)


def top_words_bars(words: Sequence[attention_analysis.WordScore], path: str, *,
                   title: str = 'Most important words (test set)') -> None:
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(6, 0.3 * len(words) + 1.2))
  y = np.arange(len(words))[::-1]
  ax.barh(y, [w.importance for w in words], color='tab:red')
  ax.set_yticks(y, [f'{w.word} ({w.count})' for w in words], fontsize=8)
  ax.set_xlabel('mean word importance sqrt(p_q p_w)')
  ax.set_title(title, fontsize=10)
  fig.tight_layout()
  _save(fig, path)
