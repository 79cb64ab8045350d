"""The scripted test double: a deterministic role-player without a language model that
reads the phrasing of the default person-job corpus's generator
(`data_prep/pjf/synthetic.py`). It exists for tests, the loop's plumbing and CPU
benchmarks; nothing it produces is evidence about MockLLM or a language model.

What it knows is that generator's templates read backwards, not English: its
depth-of-experience cues (`_LEVEL_CUES`) are the words of the generator's resume sentence
templates for each level and its demand cues (`_DEMAND_CUES`) those of its requirement
templates, so on the default corpus it reads back the generating level of every
filled-in template. On text phrased otherwise (another corpus, a language model's
answers) it reads little, and the interview then adds nothing to its judgements
(docs/mockllm.md).

It reads only the prompt (`prompts.sections`), never the corpus's labels or ground truth.
The interviewer asks about the job's requirement sentences in turn; the candidate answers
with the resume sentences that share the most content words with the question; S_q and
S_a compare the level those answers show with the level each requirement asks (S_a is
the candidate's chance of the offer, read from the same answers); S_r and S_j count the
words the resume and the job share (both sides read the documents alike); choosing cases
(retrieval='llm') ranks them by the same word overlap. Every output it produces carries
`NAME`, which says what it is.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from hirenet_jax.llm.api import ChatRequest
from hirenet_jax.llm.api import ScoreRequest
from hirenet_jax.mockllm import prompts
from hirenet_jax.mockllm.memory import terms

NAME = "scripted test double (reads the default generator's phrasing)"


def is_test_double(name: str) -> bool:
  """Whether outputs labelled `name` come from this double."""
  return name == NAME

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
# Depth of experience as the default generator's resume templates phrase it, by the level
# it suggests (0: named without being held, 1: a first contact, 2: working use, 3: expert).
# A sentence's level is its highest cue's, unless it says someone else did the work (0).
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
# The level a requirement asks for, as the generator's requirement templates phrase it; a
# requirement naming none asks 2.
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
  asked = prompts.parse_dialogue(s.get(prompts.INTERVIEW, ''))[0]
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
  _, question = prompts.parse_dialogue(s.get(prompts.INTERVIEW, ''))
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
  turns, _ = prompts.parse_dialogue(s.get(prompts.INTERVIEW, ''))
  evidence = [e for t in turns for e in _turn_evidence(t.question, t.answer)]
  if not evidence:
    return 0.5
  return 0.5 * min(evidence) + 0.5 * sum(evidence) / len(evidence)


def _document_fit(s: dict[str, str]) -> float:
  """S_r and S_j: the words the resume and the job description share."""
  return _sigmoid(8 * (_overlap(s.get(prompts.JOB, ''), s.get(prompts.RESUME, '')) - 0.2))


def _case_similarities(s: dict[str, str]) -> list[float]:
  """choose_case: each listed case's word overlap with the new document (a resume for an
  interviewer, a job description for a candidate)."""
  title = next((t for t in s if t.startswith('Past matched interviews')), '')
  new = s.get(prompts.RESUME if prompts.RESUME in title else prompts.JOB, '')
  return [_overlap(new, d) for d in prompts.parse_case_listing(s.get(title, ''))]


def _reflect_interviewer(s: dict[str, str]) -> str:
  """What a matched interview teaches the interviewer: whether its turns covered the
  job's requirements; when they did not, to ask about several at once."""
  turns, _ = prompts.parse_dialogue(s.get(prompts.INTERVIEW, ''))
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
  if behaviour in (prompts.EVAL_RESUME, prompts.EVAL_JOB):
    p = _document_fit(s)
  else:  # EVAL_INTERVIEW, EVAL_OFFER: the level the answers show against the level asked.
    p = _interview_score(s)
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
      elif behaviour == prompts.CHOOSE_CASE:
        sims = _case_similarities(s)
        out.append(', '.join(str(i + 1) for i in sorted(range(len(sims)),
                                                         key=lambda i: (-sims[i], i))))
      elif behaviour == prompts.REFLECT_INTERVIEWER:
        out.append(_reflect_interviewer(s))
      else:
        out.append(_reflect_candidate(s))
    return out

  def score(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
    """Judgements: log P(Yes) and log P(No); choose_case: the log-softmax of each case's
    word overlap (x8) for its number. Any other continuation has no score (None)."""
    out = []
    for request in requests:
      behaviour = prompts.behaviour(request.messages)
      s = prompts.sections(request.messages)
      word = request.continuation.strip()
      if behaviour == prompts.CHOOSE_CASE:
        logits = [8.0 * x for x in _case_similarities(s)]
        top = max(logits)
        norm = top + math.log(sum(math.exp(x - top) for x in logits))
        i = int(word) - 1 if word.isdigit() else -1
        out.append(logits[i] - norm if 0 <= i < len(logits) else None)
        continue
      if behaviour not in _JUDGES:
        raise ValueError(f'the scripted model scores only judgements and case choices, '
                         f'not {behaviour}')
      p = _judge(s, behaviour)
      out.append(math.log(p) if word == prompts.YES else
                 math.log(1 - p) if word == prompts.NO else None)
    return out
