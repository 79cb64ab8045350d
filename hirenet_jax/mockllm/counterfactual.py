"""MockLLM's counterfactual probe (docs/fairness.md): each pair judged again with the
resume (and the dialogue) in the feminine and in the masculine (first names, pronouns),
paired differences of every judge's score (S_r, S_q, S_j, S_a) with bootstrap intervals.
Works with any backend: the judges are asked exactly as the loop asks them."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from hirenet_jax.core import counterfactual
from hirenet_jax.core import fairness
from hirenet_jax.llm.api import LanguageModel
from hirenet_jax.mockllm import loop
from hirenet_jax.mockllm import prompts
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Turn


def _chats(job: str, resume: str, dialogue: Sequence[Turn]) -> list:
  """The four judgements of one pair, in loop.SCORE_KEYS order."""
  return [prompts.evaluate_resume(job, resume), prompts.evaluate_interview(job, resume, dialogue),
          prompts.evaluate_job(job, resume), prompts.evaluate_offer(job, resume, dialogue)]


def probe(model: LanguageModel, corpus: Corpus, items: Sequence, *,
          swap: Callable[[str, str], str] = counterfactual.english_gender,
          num_bootstrap: int = 2000, seed: int = 0) -> dict:
  """Paired judge scores as feminine minus as masculine, per judge.

  `items`: loop.Interview objects (their dialogues) or corpus pairs (their `dialogue`,
  often none); those whose resume has no marker to swap are left out. A judge is
  `sensitive` when its interval excludes 0.
  """
  chats = {'f': [], 'm': []}
  kept = 0
  for item in items:
    resume = corpus.resumes[item.candidate_id].text
    if not counterfactual.has_markers(resume, 'en'):
      continue
    kept += 1
    job = corpus.jobs[item.job_id].description
    for to in chats:
      dialogue = [Turn(swap(t.question, to), swap(t.answer, to)) for t in item.dialogue]
      chats[to] += _chats(job, swap(resume, to), dialogue)
  if not kept:
    raise ValueError('no resume among these pairs has a name or pronoun to swap')
  scores = {to: np.asarray(loop.judge(model, c)[0], np.float64).reshape(kept, 4)
            for to, c in chats.items()}
  judges = {}
  for k, key in enumerate(loop.SCORE_KEYS):
    d = fairness.paired_difference(scores['f'][:, k], scores['m'][:, k],
                                   num_bootstrap=num_bootstrap, seed=seed)
    d['sensitive'] = bool(d['low'] > 0 or d['high'] < 0)
    judges[key] = d
  return {'model': model.name, 'n': kept, 'judges': judges,
          'sensitive': [k for k, d in judges.items() if d['sensitive']]}
