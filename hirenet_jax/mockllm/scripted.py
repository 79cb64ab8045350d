"""A deterministic role-player with no language model, for tests, CPU benchmarks and a
quick look at the pipeline.

It reads only the prompt (prompts.sections): the job description, the resume, the
dialogue, the strategy and the retrieved cases, never the corpus's labels or ground truth.
Its knowledge is generic English: which sentences state requirements or preferences, and
which words signal depth of experience ("led", "years", "expert") or its absence
("course", "basics"). The interviewer asks about the job's requirement sentences in turn;
the candidate answers with the resume sentences that share the most content words with
the question; the judges score overlap and depth. Figures it produces are labelled
`scripted` everywhere: they measure the pipeline and the evidence an interview can carry,
not a language model.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from hirenet_jax.llm.api import ChatRequest
from hirenet_jax.llm.api import ScoreRequest
from hirenet_jax.mockllm import prompts
from hirenet_jax.mockllm.memory import terms

NAME = 'scripted'

STOPWORDS = frozenset('''a about above after again all also am an and any are as at be been
before being below both but by can could did do does doing during each few for from further
had has have having he her here hers him his how i if in into is it its itself just me more
most my myself no nor not now of off on once only or other our ours out over own same she
should so some such than that the their theirs them then there these they this those through
to too under until up very was we were what when where which while who whom why will with
would you your yours yourself job role candidate position team company work working worked
experience experienced skills skill knowledge ability able tell describe meet requires
required requirement requirements how does level asks including use using used must also
need needs looking hiring offer offers want wanted seeking done else know'''.split())

_REQUIREMENT_CUES = ('require', 'must', 'experience', 'skill', 'knowledge', 'proficien',
                     'familiar', 'expert', 'years', 'ability', 'able to', 'degree',
                     'looking for', 'need', 'strong', 'solid', 'background', 'mastery',
                     'command of', 'level')
_PREFERENCE_CUES = ('prefer', 'looking for', 'would like', 'want', 'interested in',
                    'willing', 'minimum', 'at least', 'open to', 'relocat', 'seeking',
                    'hoping', 'wish')
# Depth of experience, generic English (not the generator's phrases).
_DEEP = ('led', 'lead', 'leading', 'architect', 'designed', 'design', 'owned', 'years',
         'senior', 'expert', 'expertise', 'advanced', 'mentored', 'mentor', 'built',
         'managed', 'extensive', 'deep', 'production', 'migration', 'migrated', 'headed',
         'responsible', 'delivered', 'launched', 'optimised', 'optimized', 'trained')
_SHALLOW = ('course', 'introductory', 'introduction', 'basics', 'basic', 'beginner',
            'tutorial', 'familiar', 'familiarity', 'some', 'notions', 'little', 'learning',
            'followed', 'attended', 'online', 'hobby', 'curious', 'interested')
_DEMANDING = ('expert', 'senior', 'advanced', 'extensive', 'strong', 'deep', 'proven',
              'lead', 'mastery', 'excellent', 'solid', 'years')
_NO_EXPERIENCE = 'I have no experience that bears on this in my resume.'
_STRATEGY_TOPICS = re.compile(r'Ask first about: ([^.]*)\.')
_ANSWER_DEPTH = re.compile(r'Give the (\d+) most specific')


def _sentences(text: str) -> list[str]:
  parts = re.split(r'(?<=[.!?;])\s+|\n+', text)
  return [p.strip(' -*•\t') for p in parts if len(terms(p)) >= 3]


def _content(text: str) -> set[str]:
  return {t for t in terms(text) if t not in STOPWORDS and len(t) > 1}


def _has(text: str, cues: Sequence[str]) -> int:
  words = set(terms(text))
  return sum(1 for c in cues if (c in words if ' ' not in c else c in text.lower()))


def _sigmoid(x: float) -> float:
  return 1.0 / (1.0 + math.exp(-x))


def requirement_sentences(job: str) -> list[str]:
  """Sentences of the job description that state requirements (all when none do)."""
  found = [s for s in _sentences(job)
           if any(c in s.lower() for c in _REQUIREMENT_CUES) and _content(s)]
  return found or [s for s in _sentences(job) if _content(s)]


def _topic(sentence: str, limit: int = 4) -> list[str]:
  """The requirement's own words: content words without cue words, in order."""
  cues = set(_DEMANDING) | set(_SHALLOW) | set(_DEEP)
  seen, out = set(), []
  for t in terms(sentence):
    if t in STOPWORDS or t in cues or len(t) < 2 or t.isdigit() or t in seen:
      continue
    seen.add(t)
    out.append(t)
  return out[:limit]


def _asked_about(question: str) -> str:
  """The requirement a question quotes, or the question itself."""
  quoted = re.search(r'"(.+?)"', question)
  return quoted.group(1) if quoted else question


def _ask(s: dict[str, str]) -> str:
  job = s.get('Job description', '')
  asked = prompts.parse_dialogue(s.get('Dialogue so far', ''))[0]
  asked_words = set().union(*[set(_topic(_asked_about(t.question), limit=8))
                               for t in asked]) if asked else set()
  requirements = requirement_sentences(job)
  preferred = []
  found = _STRATEGY_TOPICS.search(s.get('Questioning strategy', ''))
  if found:
    preferred += [w.strip() for w in found.group(1).split(',') if w.strip()]
  for case_strategy in _STRATEGY_TOPICS.findall(s.get('Similar past interviews', '')):
    preferred += [w.strip() for w in case_strategy.split(',') if w.strip()]

  def priority(item):
    index, sentence = item
    topic = set(_topic(sentence))
    ranks = [preferred.index(w) for w in topic if w in preferred]
    return (min(ranks) if ranks else len(preferred), index)

  for _, sentence in sorted(enumerate(requirements), key=priority):
    topic = _topic(sentence)
    if topic and not set(topic) <= asked_words:
      return f'The role asks for this: "{sentence}" What have you done with {" and ".join(topic[:2])}?'
  return 'What else should I know about you?'


def _answer(s: dict[str, str]) -> str:
  resume = s.get('Resume', '')
  _, question = prompts.parse_dialogue(s.get('Dialogue so far', ''))
  if not question:
    return _NO_EXPERIENCE
  wanted = set(_topic(_asked_about(question), limit=8))
  found = _ANSWER_DEPTH.search(s.get('Answering strategy', ''))
  depth = int(found.group(1)) if found else 1
  scored = []
  for i, sentence in enumerate(_sentences(resume)):
    overlap = len(wanted & _content(sentence))
    if overlap:
      scored.append((-overlap, -_has(sentence, _DEEP), i, sentence))
  if not wanted:  # An open question: the sentence showing the most depth.
    scored = [(0, -_has(x, _DEEP), i, x) for i, x in enumerate(_sentences(resume))
              if _has(x, _DEEP)]
  if not scored:
    return _NO_EXPERIENCE
  chosen = sorted(scored)[:depth]
  return ' '.join(sentence for *_, sentence in sorted(chosen, key=lambda c: c[2]))


def _overlap(a: str, b: str) -> float:
  """Cosine of the content-word sets of two texts."""
  x, y = _content(a), _content(b)
  return len(x & y) / math.sqrt(len(x) * len(y)) if x and y else 0.0


def _turn_evidence(question: str, answer: str) -> float | None:
  """How well one answer shows the asked requirement at the asked depth, in (0, 1);
  None for an open question, which names no requirement."""
  requirement = _asked_about(question)
  wanted = set(_topic(requirement, limit=8))
  if not wanted:
    return None
  if answer == _NO_EXPERIENCE:
    return 0.05
  relevance = len(wanted & _content(answer)) / max(1, len(wanted))
  depth = _has(answer, _DEEP) - _has(answer, _SHALLOW)
  need = 1 if _has(requirement, _DEMANDING) else 0
  return relevance * _sigmoid(2.0 * (depth - need) + 1.0)


def _interview_score(s: dict[str, str]) -> float:
  turns, _ = prompts.parse_dialogue(s.get('Interview', ''))
  evidence = [e for e in (_turn_evidence(t.question, t.answer) for t in turns)
              if e is not None]
  return sum(evidence) / len(evidence) if evidence else 0.5


def _preferences(resume: str) -> list[str]:
  return [x for x in _sentences(resume) if any(c in x.lower() for c in _PREFERENCE_CUES)]


def _numbers(text: str) -> list[float]:
  out = []
  for m in re.finditer(r'(\d[\d,]*(?:\.\d+)?)\s*(k\b|K\b|000)?', text):
    value = float(m.group(1).replace(',', ''))
    if m.group(2) in ('k', 'K'):
      value *= 1000
    if value >= 1000:
      out.append(value)
  return out


def _job_fit(s: dict[str, str]) -> float:
  """The candidate's view: stated preferences found in the job, pay at least the minimum."""
  job, resume = s.get('Job description', ''), s.get('Resume', '')
  wishes = _preferences(resume)
  if not wishes:
    return _sigmoid(4 * _overlap(job, resume) - 1)
  job_words = _content(job)
  hits = [len(_topic(w, limit=8) and set(_topic(w, limit=8)) & job_words) > 0 for w in wishes]
  score = sum(hits) / len(hits)
  wanted_pay = [n for w in wishes for n in _numbers(w)]
  offered_pay = _numbers(job)
  if wanted_pay and offered_pay:
    score = 0.5 * score + 0.5 * float(max(offered_pay) >= min(wanted_pay))
  return score


def _reflect_interviewer(s: dict[str, str]) -> str:
  turns, _ = prompts.parse_dialogue(s.get('Interview', ''))
  ranked = sorted(turns, key=lambda t: -(_turn_evidence(t.question, t.answer) or 0.0))
  topics = []
  for t in ranked:
    for w in _topic(_asked_about(t.question)):
      if w not in topics:
        topics.append(w)
  if not topics:
    return prompts.INITIAL_QUESTIONING
  return (f'Ask first about: {", ".join(topics[:4])}. Then cover the remaining '
          'requirements one at a time.')


def _reflect_candidate(s: dict[str, str]) -> str:
  return ('Give the 2 most specific sentences of your resume on the subject of each '
          'question, with what you led or built.')


def _judge(s: dict[str, str], behaviour: str) -> float:
  """P(yes) of each evaluation behaviour, clipped away from 0 and 1."""
  if behaviour == prompts.EVAL_RESUME:
    p = _sigmoid(8 * (_overlap(s.get('Job description', ''), s.get('Resume', '')) - 0.2))
  elif behaviour == prompts.EVAL_INTERVIEW:
    p = _interview_score(s)
  elif behaviour == prompts.EVAL_JOB:
    p = _job_fit(s)
  else:  # EVAL_OFFER: the job's fit, weighed by how the interview went for the candidate.
    p = _job_fit(s) * (0.6 + 0.4 * _interview_score(s))
  return min(max(p, 1e-3), 1 - 1e-3)


_JUDGES = (prompts.EVAL_RESUME, prompts.EVAL_INTERVIEW, prompts.EVAL_JOB, prompts.EVAL_OFFER)


class ScriptedModel:
  """The LanguageModel protocol without a language model (module docstring)."""

  name = NAME

  def chat(self, requests: Sequence[ChatRequest]) -> list[str]:
    out = []
    for request in requests:
      behaviour = prompts.behaviour(request.messages)
      s = prompts.sections(request.messages)
      if behaviour == prompts.ASK:
        out.append(_ask(s))
      elif behaviour == prompts.ANSWER:
        out.append(_answer(s))
      elif behaviour in _JUDGES:
        out.append(prompts.YES if _judge(s, behaviour) >= 0.5 else prompts.NO)
      elif behaviour == prompts.REFLECT_INTERVIEWER:
        out.append(_reflect_interviewer(s))
      else:
        out.append(_reflect_candidate(s))
    return out

  def score(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
    out = []
    for request in requests:
      behaviour = prompts.behaviour(request.messages)
      if behaviour not in _JUDGES:
        raise ValueError(f'the scripted model scores only judgements, not {behaviour}')
      p = _judge(prompts.sections(request.messages), behaviour)
      word = request.continuation.strip()
      out.append(math.log(p) if word == prompts.YES else
                 math.log(1 - p) if word == prompts.NO else None)
    return out
