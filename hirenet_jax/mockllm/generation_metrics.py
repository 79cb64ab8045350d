"""Table 3's automatic measures of generated interviews: BLEU-1..4 of the questions and of
the answers against the candidate's resume, distinct-n, and the repeated-question rate.

BLEU here is the paper's measure of how much an utterance draws on the resume: the
geometric mean of clipped n-gram precisions 1..n (uniform weights), averaged over
utterances, without the brevity penalty, which against a whole resume as the reference
would only measure length. `bleu_with_brevity` adds the penalty back and equals
sacrebleu's sentence BLEU on the same tokens (the tests check it).
"""

from __future__ import annotations

import collections
import math
import re
from typing import Iterable, Sequence

_TOKEN = re.compile(r'\w+|[^\w\s]', re.UNICODE)


def tokens(text: str) -> list[str]:
  return _TOKEN.findall(text.lower())


def _ngrams(toks: Sequence[str], n: int) -> collections.Counter:
  return collections.Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def _precisions(hypothesis: Sequence[str], reference: Sequence[str], max_n: int
                ) -> list[tuple[int, int]]:
  out = []
  for n in range(1, max_n + 1):
    hyp, ref = _ngrams(hypothesis, n), _ngrams(reference, n)
    out.append((sum(min(c, ref[g]) for g, c in hyp.items()), max(0, len(hypothesis) - n + 1)))
  return out


def bleu(hypothesis: Sequence[str], reference: Sequence[str], max_n: int) -> float:
  """Geometric mean of clipped n-gram precisions 1..max_n (0 when one is 0)."""
  logs = []
  for matched, total in _precisions(hypothesis, reference, max_n):
    if matched == 0 or total == 0:
      return 0.0
    logs.append(math.log(matched / total))
  return math.exp(sum(logs) / max_n)


def bleu_with_brevity(hypothesis: Sequence[str], reference: Sequence[str],
                      max_n: int) -> float:
  """`bleu` times the brevity penalty: sentence BLEU as sacrebleu computes it unsmoothed."""
  c, r = len(hypothesis), len(reference)
  penalty = 1.0 if c >= r else (math.exp(1 - r / c) if c else 0.0)
  return bleu(hypothesis, reference, max_n) * penalty


def mean_bleu(utterances: Sequence[str], references: Sequence[str], max_n: int) -> float:
  """Mean `bleu` of each utterance against its reference (its interview's resume)."""
  if not utterances:
    return math.nan
  return sum(bleu(tokens(u), tokens(r), max_n)
             for u, r in zip(utterances, references)) / len(utterances)


def distinct(utterances: Iterable[str], n: int) -> float:
  """Distinct n-grams over all n-grams of the utterances (Li et al., 2016)."""
  grams = collections.Counter()
  for u in utterances:
    grams.update(_ngrams(tokens(u), n))
  total = sum(grams.values())
  return len(grams) / total if total else math.nan


def _normalised(question: str) -> str:
  return ' '.join(tokens(question))


def repeated_question_rate(dialogues: Sequence[Sequence[str]]) -> float:
  """Share of questions that repeat an earlier question of the same interview."""
  repeats = total = 0
  for questions in dialogues:
    seen = set()
    for q in questions:
      key = _normalised(q)
      repeats += key in seen
      total += 1
      seen.add(key)
  return repeats / total if total else math.nan


def interview_quality(dialogues: Sequence[Sequence[tuple[str, str]]],
                      resumes: Sequence[str]) -> dict[str, float]:
  """Table 3's figures for interviews given as (question, answer) turns, each with its
  candidate's resume."""
  questions = [q for d in dialogues for q, _ in d]
  answers = [a for d in dialogues for _, a in d]
  q_refs = [r for d, r in zip(dialogues, resumes) for _ in d]
  out = {}
  for n in range(1, 5):
    out[f'question_bleu{n}'] = mean_bleu(questions, q_refs, n)
    out[f'answer_bleu{n}'] = mean_bleu(answers, q_refs, n)
  for n in (1, 2):
    out[f'question_distinct{n}'] = distinct(questions, n)
    out[f'answer_distinct{n}'] = distinct(answers, n)
  out['repeated_question_rate'] = repeated_question_rate([[q for q, _ in d] for d in dialogues])
  out['turns_per_interview'] = (sum(len(d) for d in dialogues) / len(dialogues)
                                if dialogues else math.nan)
  return out
