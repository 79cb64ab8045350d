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
need needs looking hiring offer offers want wanted seeking done else know bring one two
three four five six seven eight nine ten several'''.split())

_REQUIREMENT_CUES = ('require', 'must', 'experience', 'skill', 'knowledge', 'proficien',
                     'familiar', 'expert', 'years', 'ability', 'able to', 'degree',
                     'looking for', 'need', 'strong', 'solid', 'background', 'mastery',
                     'command of', 'exposure', 'plus')
_PREFERENCE_CUES = ('prefer', 'looking for', 'would like', 'want', 'interest',
                    'willing', 'minimum', 'at least', 'open to', 'relocat', 'seeking',
                    'i can work', 'expect', 'only')
_NEGATIVE_CUES = ('do not want', "don't want", 'not interested', 'avoid', 'no longer',
                  'never again')
# Depth of experience in common CV English, by the level it suggests (0: named without
# being held, 1: a first contact, 2: working use, 3: expert). A sentence's level is its
# highest cue's, unless it says someone else did the work (level 0).
_LEVEL_CUES = {
    3: ('led', 'lead', 'leading', 'coached', 'go-to', 'set the standards', 'reviewed all',
        'reviewing all', 'hardest cases', 'the standards',
        'designed', 'from scratch', 'in production', 'taught', 'guidelines', 'took over',
        'rebuilt', 'single-handedly', 'architected', 'owned', 'mentored', 'headed',
        'spearheaded', 'expert', 'principal'),
    2: ('without supervision', 'on my own', 'independently', 'regularly', 'every week',
        'delivered', 'autonomously', 'routine', 'day-to-day', 'daily', 'worked with',
        'took care of', 'fixed'),
    1: ('introductory', 'course', 'first look', 'workshop', 'watched', 'under supervision',
        'first modules', 'tutorial', 'asking for help', 'senior colleague', 'beginner',
        'basics', 'shadowed', 'small changes', 'specified by'),
    0: ('another group', 'without doing', 'after i had left', 'contractors',
        'shared an office', 'specialists', 'would like to learn', 'curious about',
        'podcast', 'popular book', 'handled by', 'looked after'),
}
# The level a requirement asks for, by the same reading; a requirement naming none asks 2.
_DEMAND_CUES = {
    3: ('expert', 'deep', 'senior', 'leading', 'reference', 'mastery', 'extensive',
        'several years'),
    2: ('solid', 'working', 'autonomously', 'regular', 'years', 'proficient', 'proficiency',
        'strong'),
    1: ('basic', 'exposure', 'familiar', 'familiarity', 'train you', 'some', 'plus',
        'nice to have'),
    0: ('plus', 'nice to have', 'not a requirement'),
}
_CUE_WORDS = frozenset(w for table in (_LEVEL_CUES, _DEMAND_CUES) for cues in table.values()
                       for c in cues for w in c.replace('-', ' ').split())
_NO_EXPERIENCE = 'I have no experience that bears on this in my resume.'
_STRATEGY_TOPICS = re.compile(r'Ask first about: ([^.]*)\.')
_ANSWER_DEPTH = re.compile(r'Give the (\d+) most specific')
_PER_QUESTION = re.compile(r'Cover (\d+) requirements per question')


def _sentences(text: str) -> list[str]:
  parts = re.split(r'(?<=[.!?;])\s+|\n+', text)
  return [p.strip(' -*•\t') for p in parts if len(terms(p)) >= 3]


def _content(text: str) -> set[str]:
  return {t for t in terms(text) if t not in STOPWORDS and len(t) > 1}


def _cues(text: str, cues: Sequence[str]) -> list[str]:
  """The cue phrases found in `text` (whole words)."""
  low = ' ' + ' '.join(re.findall(r"[\w'-]+", text.lower())) + ' '
  return [c for c in cues if f' {c} ' in low]


def _sigmoid(x: float) -> float:
  return 1.0 / (1.0 + math.exp(-x))


def level_of(sentence: str) -> float | None:
  """The level of experience a sentence shows (see _LEVEL_CUES), None if it says none."""
  found = [level for level, cues in _LEVEL_CUES.items() if _cues(sentence, cues)]
  if not found:
    return None
  return 0 if 0 in found else max(found)


def demanded_level(requirement: str) -> int:
  """0 for a nice-to-have, else 1-3; a requirement naming no level asks for 2."""
  for level in (0, 3, 1, 2):
    if _cues(requirement, _DEMAND_CUES[level]):
      return level
  return 2


def requirement_sentences(job: str) -> list[str]:
  """The requirements of a job description, one clause each (all sentences when no
  sentence reads as a requirement)."""
  found = [x for x in _sentences(job) if any(c in x.lower() for c in _REQUIREMENT_CUES)]
  clauses = []
  for sentence in found:
    pending = ''  # A clause naming no subject ("several years of senior") joins the next.
    for part in re.split(r',|;| and (?!more)', sentence):
      part = f'{pending}, {part.strip()}' if pending else part.strip()
      if _topic(part):
        clauses.append(part)
        pending = ''
      else:
        pending = part
    if pending and clauses:
      clauses[-1] = f'{clauses[-1]}, {pending}'
  return clauses or [x for x in _sentences(job) if _content(x)]


def _topic(sentence: str, limit: int = 4) -> list[str]:
  """The requirement's own words: content words without cue words, in order."""
  seen, out = set(), []
  for t in terms(sentence):
    if t in STOPWORDS or t in _CUE_WORDS or len(t) < 2 or t.isdigit() or t in seen:
      continue
    seen.add(t)
    out.append(t)
  return out[:limit]


def _asked_about(question: str) -> list[str]:
  """The requirements a question quotes, or the question itself."""
  quoted = re.findall(r'"(.+?)"', question)
  return quoted or [question]


def _ask(s: dict[str, str]) -> str:
  """The next unasked requirements (as many per question as the strategy says), the
  strategy's subjects first, then the most demanding."""
  job = s.get('Job description', '')
  asked = prompts.parse_dialogue(s.get('Dialogue so far', ''))[0]
  asked_words = set()
  for t in asked:
    for requirement in _asked_about(t.question):
      asked_words |= set(_topic(requirement, limit=8))
  strategy = s.get('Questioning strategy', '')
  found = _PER_QUESTION.search(strategy)
  if not found:  # Before a match of its own, the interviewer follows a similar case.
    found = _PER_QUESTION.search(s.get('Similar past interviews', ''))
  per_question = int(found.group(1)) if found else 1
  preferred = []
  found = _STRATEGY_TOPICS.search(strategy)
  if found:
    preferred += [w.strip() for w in found.group(1).split(',') if w.strip()]
  for case_strategy in _STRATEGY_TOPICS.findall(s.get('Similar past interviews', '')):
    preferred += [w.strip() for w in case_strategy.split(',') if w.strip()]

  def priority(item):
    index, sentence = item
    topic = set(_topic(sentence))
    ranks = [preferred.index(w) for w in topic if w in preferred]
    return (min(ranks) if ranks else len(preferred), -demanded_level(sentence), index)

  chosen = []
  for _, sentence in sorted(enumerate(requirement_sentences(job)), key=priority):
    topic = _topic(sentence)
    if topic and not set(topic) <= asked_words:
      chosen.append((sentence, topic))
      asked_words |= set(topic)
      if len(chosen) == per_question:
        break
  if not chosen:
    return 'What else should I know about you?'
  quotes = '; '.join(f'"{sentence}"' for sentence, _ in chosen)
  subjects = ' and '.join(topic[0] for _, topic in chosen)
  return f'The role asks for this: {quotes} What have you done with {subjects}?'


def _level_or_unknown(sentence: str) -> float:
  level = level_of(sentence)
  return 1.5 if level is None else level


def _best_sentences(sentences: list[str], wanted: set[str], depth: int) -> list[int]:
  """Indices of the `depth` sentences on `wanted`'s subject that say the most."""
  # A sentence that says how the skill was used tells more than one that names it.
  scored = sorted((-len(wanted & _content(x)), level_of(x) is None, -_level_or_unknown(x), i)
                  for i, x in enumerate(sentences) if wanted & _content(x))
  return [i for *_, i in scored[:depth]]


def _answer(s: dict[str, str]) -> str:
  """For each requirement asked, the resume sentences on its subject."""
  resume = s.get('Resume', '')
  _, question = prompts.parse_dialogue(s.get('Dialogue so far', ''))
  if not question:
    return _NO_EXPERIENCE
  found = _ANSWER_DEPTH.search(s.get('Answering strategy', ''))
  depth = int(found.group(1)) if found else 1
  sentences = _sentences(resume)
  chosen = []
  for requirement in _asked_about(question):
    wanted = set(_topic(requirement, limit=8))
    if wanted:
      chosen += _best_sentences(sentences, wanted, depth)
  if not any(_topic(r) for r in _asked_about(question)):
    # An open question: the sentences showing the most experience.
    chosen = [i for _, i in sorted((-level_of(x), i) for i, x in enumerate(sentences)
                                   if level_of(x) is not None)[:depth]]
  if not chosen:
    return _NO_EXPERIENCE
  return ' '.join(sentences[i] for i in sorted(set(chosen)))


def _overlap(a: str, b: str) -> float:
  """Cosine of the content-word sets of two texts."""
  x, y = _content(a), _content(b)
  return len(x & y) / math.sqrt(len(x) * len(y)) if x and y else 0.0


def _turn_evidence(question: str, answer: str) -> list[float]:
  """For each requirement a question asks, how well the answer shows it at the asked
  level, in (0, 1): the level of the answer's sentences on its subject against the
  demanded one. Empty for an open question."""
  out = []
  answer_sentences = _sentences(answer) if answer != _NO_EXPERIENCE else []
  for requirement in _asked_about(question):
    wanted = set(_topic(requirement, limit=8))
    if not wanted:
      continue
    on_subject = [x for x in answer_sentences if wanted & _content(x)]
    if not on_subject:
      out.append(0.02)
      continue
    relevance = max(len(wanted & _content(x)) for x in on_subject) / len(wanted)
    level = max(_level_or_unknown(x) for x in on_subject)
    out.append(relevance * _sigmoid(3.0 * (level - demanded_level(requirement)) + 1.5))
  return out


def _interview_score(s: dict[str, str]) -> float:
  """Every requirement must be met: the mean of the weakest answer and the average."""
  turns, _ = prompts.parse_dialogue(s.get('Interview', ''))
  evidence = [e for t in turns for e in _turn_evidence(t.question, t.answer)]
  if not evidence:
    return 0.5
  return 0.5 * min(evidence) + 0.5 * sum(evidence) / len(evidence)


def _words(text: str) -> set[str]:
  """Content words with hyphenated compounds kept whole ("part-time" is not "full-time")."""
  return {w for w in re.findall(r'[^\W\d_]+(?:-[^\W\d_]+)*', text.lower())
          if w not in STOPWORDS and len(w) > 1}


def _preferences(resume: str) -> list[str]:
  return [x for x in _sentences(resume) if any(c in x.lower() for c in _PREFERENCE_CUES)]


def _numbers(text: str) -> list[float]:
  out = []
  for m in re.finditer(r'(\d[\d,]*(?:\.\d+)?)\s*(k\b|K\b)?', text):
    value = float(m.group(1).replace(',', ''))
    if m.group(2):
      value *= 1000
    if value >= 1000:
      out.append(value)
  return out


def _job_fit(s: dict[str, str]) -> float:
  """The candidate's view: the share of the resume's stated preferences the job meets
  (a named option found in the job, an excluded one absent, the pay at least the
  minimum), mapped so that all met is a yes and one unmet a no."""
  job, resume = s.get('Job description', ''), s.get('Resume', '')
  wishes = _preferences(resume)
  if not wishes:
    return _sigmoid(8 * (_overlap(job, resume) - 0.2))
  job_words, offered = _words(job), _numbers(job)
  met = []
  for wish in wishes:
    wanted = _numbers(wish)
    options = _words(wish) - _CUE_WORDS - {w for c in _PREFERENCE_CUES for w in c.split()}
    if wanted:
      met.append(bool(offered) and max(offered) >= min(wanted))
    elif any(c in wish.lower() for c in _NEGATIVE_CUES):
      met.append(not options & job_words)
    elif options:
      met.append(bool(options & job_words))
  share = sum(met) / len(met) if met else 0.5
  return _sigmoid(8.0 * (share - 0.9))


def _reflect_interviewer(s: dict[str, str]) -> str:
  """What a matched interview teaches the interviewer: whether its turns covered the
  job's requirements; when they did not, to ask about several at once."""
  turns, _ = prompts.parse_dialogue(s.get('Interview', ''))
  requirements = [r for r in requirement_sentences(s.get('Job description', ''))
                  if demanded_level(r) > 0]
  if not turns or len(requirements) <= len(turns):
    return ('Ask about each requirement once, the most demanding first, and check the '
            'level the candidate reached.')
  per_question = math.ceil(len(requirements) / len(turns))
  return (f'Cover {per_question} requirements per question, the most demanding first: '
          f'{len(turns)} questions do not reach {len(requirements)} requirements one by one.')


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
