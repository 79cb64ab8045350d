r"""Corpora built differently from the default one, to choose a training recipe on.

The default synthetic corpus (`data_prep.hirenet.synthetic`) is what the recipe was first tuned on;
a recipe that only works there fails on real corpora. This module writes five corpora in
the same raw format (text only), each with its ground truth, and caches them like the
default corpus (docs/robustness.md says what each one tests):

  a_default      the default corpus itself (the order of two events in the key answers).
  b_weak_lexical weak bag-of-words signal: short answers, a 4,000-word lexicon, hirable
                 candidates use a few marker words slightly more often; little else.
  c_placement    a different rule needing the job title and the question together: every
                 candidate says two "result" phrases; a hirable one says one of them in the
                 answer to the question its job family cares about (a different mapping
                 from the default's), the others say both elsewhere. Same words either way.
  d_small        the default rule with 400 candidates.
  e_imbalanced   the default rule with about 15% hirable candidates.

The command `python -m data_prep.corpus_suite --out_dir=DIR` writes them (write_suite).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
from typing import Sequence

import numpy as np

from data_prep import file_lock as cache
from data_prep.hirenet import synthetic
from hirenet_jax.core import paths
from hirenet_jax.core import run_log

SUITE_VERSION = 1

# Rule 'placement': one key question type per family, none the default's sole key type.
PLACEMENT_KEY_TYPES = {'vente': 'motivation', 'relation_client': 'experience',
                       'support': 'presentation', 'logistique': 'situation'}
RESULT_EVENT = 'R'
_EVENT_PHRASES = {**synthetic._EVENT_PHRASES, RESULT_EVENT: (  # pylint: disable=protected-access
    "j'ai dépassé les objectifs fixés", 'nous avons réduit les délais de moitié',
    "j'ai obtenu une prime pour mes résultats")}

# Rule 'lexical': marker words among a large lexicon of pseudo-words.
_SYLLABLES = ('ba', 'be', 'bi', 'bo', 'da', 'de', 'di', 'do', 'fa', 'fe', 'fi', 'fo', 'ga',
              'gi', 'go', 'la', 'le', 'li', 'lo', 'ma', 'me', 'mi', 'mo', 'na', 'ne', 'ni',
              'no', 'pa', 'pe', 'pi', 'po', 'ra', 're', 'ri', 'ro', 'sa', 'se', 'si', 'so',
              'ta', 'te', 'ti', 'to', 'va', 've', 'vi', 'vo', 'za', 'zo', 'ju')
_NUM_MARKERS = 60           # marker words per polarity, drawn from mid-frequency ranks.
_LEXICON_WORDS_PER_ANSWER = 4.0  # Poisson mean of Zipfian lexicon words per answer.


@dataclasses.dataclass(frozen=True)
class SuiteCorpus:
  """One corpus of the suite: the generator's rule and settings."""
  name: str
  description: str
  rule: str = 'order'              # order | placement | lexical
  num_candidates: int = 1200
  seed: int = 1
  questions_per_interview: int = 5
  words_per_answer: float = 40.0
  cue_strength: float = 0.8
  label_noise: float = 0.05
  hirable_logit: float = synthetic._HIRABLE_LOGIT  # centre of the positions' hirable rates.  # pylint: disable=protected-access
  position_prior_sd: float = 0.6
  lexicon_size: int = 4000         # lexical only.
  marker_shift: float = 0.12       # lexical only: P(positive marker) = 0.5 +- shift.

  def params(self) -> dict:
    return {k: v for k, v in dataclasses.asdict(self).items() if k != 'description'}


SUITE = {c.name: c for c in (
    SuiteCorpus('a_default', 'the default corpus (event order in the key answers)'),
    SuiteCorpus('b_weak_lexical', 'weak bag-of-words signal, 4,000-word lexicon, short '
                'answers', rule='lexical', seed=11, num_candidates=2400, questions_per_interview=4,
                words_per_answer=14.0, label_noise=0.1, position_prior_sd=0.3, marker_shift=0.1),
    SuiteCorpus('c_placement', 'title + question rule: where a result phrase is said',
                rule='placement', seed=12),
    SuiteCorpus('d_small', 'the default rule, 400 candidates', num_candidates=400, seed=13),
    SuiteCorpus('e_imbalanced', 'the default rule, about 15% hirable', seed=14,
                hirable_logit=-2.1),
)}
SUITE_NAMES = tuple(SUITE)
DEFAULT_NAME = 'a_default'  # written by data_prep.hirenet.synthetic itself (DEFAULT_CORPUS).


def lexicon(size: int, seed: int) -> tuple[list[str], list[str], list[str]]:
  """(words by Zipf rank, positive markers, negative markers) of the lexical rule."""
  rng = np.random.default_rng([seed, 7])
  words, seen = [], set()
  while len(words) < size:
    n = int(rng.integers(2, 4))
    word = ''.join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), size=n))
    if word not in seen:
      seen.add(word)
      words.append(word)
  lo, hi = min(200, size // 4), min(1200, size)
  picks = rng.choice(np.arange(lo, hi), size=2 * _NUM_MARKERS, replace=False)
  return (words, [words[int(i)] for i in picks[:_NUM_MARKERS]],
          [words[int(i)] for i in picks[_NUM_MARKERS:]])


def _insert_words(rng: np.random.Generator, transcript: str, extra: Sequence[str]) -> str:
  words = transcript.split()
  for word in extra:
    words.insert(int(rng.integers(0, len(words) + 1)), word)
  words = [w.lower() if i else w[:1].upper() + w[1:] for i, w in enumerate(words)]
  return ' '.join(words)


def _length(rng: np.random.Generator, words_per_answer: float) -> int:
  sigma = synthetic._LENGTH_SIGMA  # pylint: disable=protected-access
  return max(6, int(round(words_per_answer * math.exp(sigma * rng.normal() - sigma**2 / 2))))


def _plan_candidate(index: int, position: synthetic.Position, spec: SuiteCorpus,
                    lex: tuple | None) -> synthetic.CandidatePlan:
  """A candidate of rule 'placement' or 'lexical' (text only: no media timings)."""
  rng = np.random.default_rng([spec.seed, 1, index])
  background = str(synthetic._pick(rng, synthetic.FAMILY_NAMES))  # pylint: disable=protected-access
  latent = int(rng.random() < position.prior)
  label = latent if rng.random() >= spec.label_noise else 1 - latent
  p_good = 0.5 + 0.5 * spec.cue_strength
  types = synthetic._question_types(rng, spec.questions_per_interview)  # pylint: disable=protected-access
  key_index = None
  events_per_answer = [[] for _ in types]
  good = None
  if spec.rule == 'placement':
    key_type = PLACEMENT_KEY_TYPES[position.family]
    keys = [i for i, t in enumerate(types) if t == key_type]
    key_index = keys[0] if keys else None
    others = [i for i in range(len(types)) if i != key_index]
    good = bool(rng.random() < (p_good if latent else 1 - p_good))
    if good and key_index is not None:
      places = [key_index, int(rng.choice(others))]
    else:
      places = [int(i) for i in rng.choice(others, size=min(2, len(others)), replace=False)]
    for i in places:
      events_per_answer[i].append(RESULT_EVENT)
  answers = []
  for i, qtype in enumerate(types):
    question = synthetic._fill(synthetic._pick(rng, synthetic._QUESTIONS[qtype]), rng,  # pylint: disable=protected-access
                               background)
    events = list(events_per_answer[i])
    for distractor in ('Z', 'W'):
      if rng.random() < synthetic._DISTRACTOR_P:  # pylint: disable=protected-access
        events.insert(int(rng.integers(0, len(events) + 1)), distractor)
    num_words = _length(rng, spec.words_per_answer)
    transcript, spans = synthetic._answer_text(rng, background, qtype, num_words, events,  # pylint: disable=protected-access
                                               _EVENT_PHRASES)
    if spec.rule == 'lexical':
      words, positive, negative = lex
      ranks = np.arange(1, len(words) + 1, dtype=np.float64)
      zipf = (1.0 / ranks) / np.sum(1.0 / ranks)
      extra = [words[int(j)] for j in rng.choice(
          len(words), size=int(rng.poisson(_LEXICON_WORDS_PER_ANSWER)), p=zipf)]
      p_positive = 0.5 + spec.marker_shift * (1 if latent else -1)
      extra.append(str(synthetic._pick(rng, positive if rng.random() < p_positive  # pylint: disable=protected-access
                                       else negative)))
      transcript = _insert_words(rng, transcript, extra)
      spans = []  # inserted words shift the event spans; the lexical rule has no events.
    key = i == key_index
    answers.append(synthetic.AnswerPlan(
        question=question, question_type=qtype, key=key,
        order=''.join(e for e in events if e == RESULT_EVENT) or None,
        good=good if key else None, transcript=transcript, text_spans=spans,
        seconds=0.0, event_times=[], has_audio=False, has_video=False))
  return synthetic.CandidatePlan(
      index=index, candidate_id=f'c{index:05d}', position_id=position.position_id,
      job_title=position.job_title, family=position.family, background=background,
      latent_hirable=latent, label=label,
      decisions=synthetic._decisions(rng, label), answers=answers)  # pylint: disable=protected-access


def plan_suite_corpus(spec: SuiteCorpus) -> list[synthetic.CandidatePlan]:
  """Every candidate of `spec` (rule 'order' is data_prep.hirenet.synthetic's own)."""
  if spec.rule not in ('order', 'placement', 'lexical'):
    raise ValueError(f'unknown rule {spec.rule!r}; expected order, placement or lexical')
  positions = synthetic._positions(spec.num_candidates, spec.seed, spec.position_prior_sd,  # pylint: disable=protected-access
                                   spec.hirable_logit)
  rng = np.random.default_rng([spec.seed, 4])
  assignment = rng.integers(0, len(positions), size=spec.num_candidates)
  assignment[:len(positions)] = np.arange(min(len(positions), spec.num_candidates))
  lex = lexicon(spec.lexicon_size, spec.seed) if spec.rule == 'lexical' else None
  plans = []
  for i in range(spec.num_candidates):
    position = positions[int(assignment[i])]
    if spec.rule == 'order':
      plans.append(synthetic._plan_candidate(  # pylint: disable=protected-access
          i, position, seed=spec.seed, questions_per_interview=spec.questions_per_interview,
          words_per_answer=spec.words_per_answer, seconds_per_answer=5.0,
          cue_strength=spec.cue_strength, label_noise=spec.label_noise,
          missing_audio_rate=0.0, missing_video_rate=0.0))
    else:
      plans.append(_plan_candidate(i, position, spec, lex))
  return plans


def write_suite_corpus(out_dir: str, spec: SuiteCorpus) -> str:
  """Writes `spec`'s corpus (interviews.jsonl, ground_truth.jsonl, corpus_info.json)."""
  if spec.name == DEFAULT_NAME:
    return synthetic.generate_corpus(out_dir, modalities=('text',), **synthetic.DEFAULT_CORPUS)
  plans = plan_suite_corpus(spec)
  os.makedirs(out_dir, exist_ok=True)
  run_log.write_jsonl(os.path.join(out_dir, 'interviews.jsonl'),
                      (synthetic._interview_record(p, ('text',)) for p in plans))  # pylint: disable=protected-access
  gt = []
  for p in plans:
    record = synthetic._ground_truth_record(p)  # pylint: disable=protected-access
    record.update(rule=spec.rule, good_order=None if spec.rule != 'order' else record['good_order'])
    for a in record['answers']:
      a.pop('audio'), a.pop('video'), a.pop('seconds')
    gt.append(record)
  run_log.write_jsonl(os.path.join(out_dir, 'ground_truth.jsonl'), gt)
  info = {'generator': 'data_prep.hirenet.corpus_suite', 'version': SUITE_VERSION,
          'synthetic_version': synthetic.GENERATOR_VERSION, 'name': spec.name,
          'description': spec.description, 'params': spec.params(), 'modalities': ['text'],
          'hirable_fraction': float(np.mean([p.label for p in plans])) if plans else 0.0}
  run_log.write_json(os.path.join(out_dir, 'corpus_info.json'), info, indent=1,
                     sort_keys=False, end='\n')
  return out_dir


def cache_dir(name: str) -> str:
  spec = SUITE[name]
  digest = hashlib.sha1(json.dumps(
      [spec.params(), SUITE_VERSION, synthetic.GENERATOR_VERSION],
      sort_keys=True).encode()).hexdigest()[:8]
  return os.path.join(paths.cache_root(), f'suite_{name}_{digest}')


def ensure_suite_corpus(name: str) -> str:
  """The suite corpus `name`, built once into the cache (under a lock, atomically)."""
  if name not in SUITE:
    raise ValueError(f'unknown suite corpus {name!r}; expected one of {SUITE_NAMES}')
  if name == DEFAULT_NAME:
    return synthetic.ensure_default_corpus(('text',))
  out = cache_dir(name)
  with cache.file_lock(out + '.lock'):
    if not os.path.exists(os.path.join(out, 'corpus_info.json')):
      tmp = f'{out}.tmp{os.getpid()}'
      shutil.rmtree(tmp, ignore_errors=True)
      shutil.rmtree(out, ignore_errors=True)
      write_suite_corpus(tmp, SUITE[name])
      os.rename(tmp, out)
  return out


def write_suite(out_dir: str, names: Sequence[str] | None = None
                ) -> list[tuple[str, dict, SuiteCorpus]]:
  """Writes the suite corpora `names` (default: all) into `out_dir/<name>`; returns each
  one's (directory, corpus_info.json, spec)."""
  names = list(names or SUITE_NAMES)
  unknown = [name for name in names if name not in SUITE]
  if unknown:
    raise ValueError(f'unknown suite corpus {unknown[0]!r}; expected some of {SUITE_NAMES}')
  written = []
  for name in names:
    out = write_suite_corpus(os.path.join(out_dir, name), SUITE[name])
    with open(os.path.join(out, 'corpus_info.json'), encoding='utf-8') as f:
      written.append((out, json.load(f), SUITE[name]))
  return written
