"""Self-contained HTML report of one candidate: words shaded by attention."""

from __future__ import annotations

import dataclasses
import html
from typing import Sequence

import numpy as np


@dataclasses.dataclass
class AnswerView:
  question: str
  question_weight: float  # High-level attention of this answer (sums to 1 over answers).
  words: Sequence[str] = ()  # Text modality: the answer's words, in order.
  word_weights: Sequence[float] = ()  # Low-level attention, one per word.
  plot_png: str | None = None  # Audio / video: base64 PNG of the attention curve.
  available: bool = True  # False when this modality is missing for the answer.


_STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
.answer { border-left: 6px solid rgba(31, 119, 180, var(--q)); padding: .3em 1em; margin: 1em 0; }
.question { font-weight: bold; }
.qweight { color: #555; font-size: .9em; }
.w { border-radius: 3px; padding: 0 1px; background: rgba(214, 39, 40, var(--a)); }
.missing { color: #999; font-style: italic; }
"""


def _shade(values: np.ndarray) -> np.ndarray:
  """Maps non-negative values to [0, 1] opacities, the maximum at 0.85."""
  top = values.max() if values.size else 0.0
  return np.zeros_like(values) if top <= 0 else 0.85 * values / top


@dataclasses.dataclass
class Section:
  """One modality's view of a candidate: its model's score and the answers."""
  title: str
  score: float
  answers: Sequence[AnswerView]
  threshold: float = 0.5


def _section_html(section: Section) -> list[str]:
  e = html.escape
  decision = 'hirable' if section.score >= section.threshold else 'not hirable'
  parts = [f'<h2>{e(section.title)}</h2>',
           f'<p>Score: <b>{section.score:.3f}</b> ({decision} at threshold '
           f'{section.threshold:.2f})</p>']
  q_shades = _shade(np.array([a.question_weight for a in section.answers], np.float64))
  for i, (answer, q_shade) in enumerate(zip(section.answers, q_shades)):
    parts.append(f'<div class="answer" style="--q:{q_shade:.3f}">')
    parts.append(f'<div class="question">Q{i + 1}. {e(answer.question)} '
                 f'<span class="qweight">(question attention {answer.question_weight:.3f})'
                 '</span></div>')
    if not answer.available:
      parts.append('<p class="missing">No features for this answer in this modality.</p>')
    elif answer.words:
      shades = _shade(np.asarray(answer.word_weights, np.float64))
      spans = [f'<span class="w" style="--a:{s:.3f}" title="{w_att:.4f}">{e(word)}</span>'
               for word, s, w_att in zip(answer.words, shades, answer.word_weights)]
      parts.append('<p>' + ' '.join(spans) + '</p>')
    if answer.plot_png:
      parts.append(f'<img alt="attention over time, answer {i + 1}" '
                   f'src="data:image/png;base64,{answer.plot_png}">')
    parts.append('</div>')
  return parts


def render_page(candidate_id: str, sections: Sequence[Section], *, job_title: str = '',
                label: int | None = None) -> str:
  """One candidate, one section per modality, as one HTML string (inline CSS, images)."""
  e = html.escape
  label_text = '' if label is None else f'<br>Label: {"hirable" if label else "not hirable"}'
  parts = [
      '<!DOCTYPE html><html><head><meta charset="utf-8">',
      f'<title>HireNet: {e(candidate_id)}</title><style>{_STYLE}</style></head><body>',
      f'<h1>Candidate {e(candidate_id)}</h1>',
      f'<p>Job title: <b>{e(job_title)}</b>{label_text}</p>',
  ]
  for k, section in enumerate(sections):
    if k:
      parts.append('<hr>')
    parts.extend(_section_html(section))
  parts.append('</body></html>')
  return '\n'.join(parts)


def render_candidate(candidate_id: str, score: float, answers: Sequence[AnswerView], *,
                     job_title: str = '', label: int | None = None,
                     threshold: float = 0.5) -> str:
  """A page with a single section (one modality)."""
  return render_page(candidate_id, [Section('Answers', score, answers, threshold)],
                     job_title=job_title, label=label)
