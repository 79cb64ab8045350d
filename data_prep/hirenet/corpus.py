"""Reads and checks the raw interview corpus (`interviews.jsonl` + media files).

The format is documented in docs/corpus_format.md. This module only looks at the JSON
structure, labels and whether referenced files exist; feature extraction (and the
problems it finds) lives in data_prep.hirenet.build / data_prep.hirenet.validate.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterable, Sequence

from data_prep.errors import CorpusError
from data_prep.errors import Problem
from data_prep.errors import read_jsonl
from hirenet_jax.core import fairness
from hirenet_jax.hirenet import dataset_spec

INTERVIEWS_FILE = 'interviews.jsonl'

# Recruiter decisions (paper, "Dataset"): liked or shortlisted -> hirable vote; other
# actions (criteria ratings, comments) count as not hirable once declared.
HIRABLE_DECISIONS = frozenset({'like', 'liked', 'shortlist', 'shortlisted'})
NOT_HIRABLE_DECISIONS = frozenset({'dislike', 'disliked'})


@dataclasses.dataclass(frozen=True)
class Decisions:
  """The declared recruiter decision words: each one is a hirable or a not-hirable vote."""
  hirable: frozenset = HIRABLE_DECISIONS
  not_hirable: frozenset = NOT_HIRABLE_DECISIONS

  def __post_init__(self):
    both = self.hirable & self.not_hirable
    if both:
      raise ValueError(f'decision words declared both hirable and not hirable: '
                       f'{", ".join(sorted(both))}')

  def extended(self, hirable: Iterable[str] = (), not_hirable: Iterable[str] = ()
               ) -> 'Decisions':
    """These decisions plus further hirable / not-hirable words (case-insensitive)."""
    clean = lambda words: frozenset(w.strip().lower() for w in words if w.strip())
    return Decisions(self.hirable | clean(hirable), self.not_hirable | clean(not_hirable))

  def vote(self, decision) -> int:
    """1 (hirable) or 0; raises ValueError on an undeclared word."""
    key = str(decision).strip().lower()
    if key in self.hirable:
      return 1
    if key in self.not_hirable:
      return 0
    raise ValueError(
        f'undeclared decision {decision!r} (hirable: {", ".join(sorted(self.hirable))}; '
        f'not hirable: {", ".join(sorted(self.not_hirable))}); declare further words '
        'with --hirable_decisions or --not_hirable_decisions')


DEFAULT_DECISIONS = Decisions()

@dataclasses.dataclass(frozen=True)
class Answer:
  """One answer of an interview; media paths are absolute, None when missing."""
  index: int  # 0-based position in the raw interview.
  question: str
  transcript: str | None
  audio: str | None
  video: str | None

  def source(self, modality: str) -> str | None:
    """The transcript (text) or the media path (audio/video), None if absent."""
    return getattr(self, dataset_spec.modality(modality).media_key)


@dataclasses.dataclass(frozen=True)
class Interview:
  """One candidate: a structurally valid line of interviews.jsonl."""
  candidate_id: str
  position_id: str
  job_title: str
  label: int
  answers: tuple[Answer, ...]
  line: int  # 1-based line number in interviews.jsonl.
  split: str | None = None  # Optional fixed split (data_prep.hirenet.build --split=given).
  # Group attributes for bias audits (docs/fairness.md): carried beside the data into
  # meta.json and predictions.csv, never into the features.
  attributes: dict = dataclasses.field(default_factory=dict, hash=False)


def label_from_decisions(decisions: Sequence[str],
                         vocabulary: Decisions = DEFAULT_DECISIONS) -> int:
  """Majority vote of recruiter decisions; a draw counts as hirable (paper, "Dataset").

  A recruiter who liked or shortlisted votes hirable (1); one who disliked, or took
  another declared action (e.g. a comment), votes not hirable (0).

  Raises:
    ValueError: no decision, or a word `vocabulary` does not declare.
  """
  if not decisions:
    raise ValueError('"decisions" is empty')
  hirable = sum(vocabulary.vote(d) for d in decisions)
  return int(2 * hirable >= len(decisions))


def _relative(path: str, corpus_dir: str) -> str:
  try:
    return os.path.relpath(path, corpus_dir)
  except ValueError:
    return path


def _is_str(x) -> bool:
  return isinstance(x, str)


def _parse_label(record: dict, decisions: Decisions) -> int:
  """The label of a record; raises ValueError with the reason."""
  if 'label' in record and record['label'] is not None:
    label = record['label']
    if isinstance(label, bool) or label not in (0, 1):
      raise ValueError(f'"label" must be 0 or 1, got {label!r}')
    return int(label)
  if 'decisions' in record and record['decisions'] is not None:
    votes = record['decisions']
    if not isinstance(votes, list):
      raise ValueError('"decisions" must be a list of strings')
    return label_from_decisions(votes, decisions)
  raise ValueError('missing field "label" (or "decisions")')


def _inside(path: str, corpus_dir: str) -> bool:
  """Whether `path`, symbolic links resolved, lies inside `corpus_dir`."""
  real, root = os.path.realpath(path), os.path.realpath(corpus_dir)
  return os.path.commonpath([real, root]) == root


def _parse_answer(raw, index: int, corpus_dir: str, allow_external_media: bool) -> Answer:
  """One answer; raises ValueError on a structural problem."""
  if not isinstance(raw, dict):
    raise ValueError(f'answer {index} is not a JSON object')
  if not _is_str(raw.get('question')):
    raise ValueError(f'answer {index}: missing field "question" (a string)')
  fields = {}
  for key in ('transcript', 'audio', 'video'):
    value = raw.get(key)
    if value is not None and not _is_str(value):
      raise ValueError(f'answer {index}: "{key}" must be a string or null')
    fields[key] = value or None
  for key in (dataset_spec.modality(m).media_key for m in dataset_spec.FRAME_MODALITIES):
    if fields[key] is not None:
      named = fields[key]
      fields[key] = os.path.normpath(os.path.join(corpus_dir, named))
      if not allow_external_media and not _inside(fields[key], corpus_dir):
        raise ValueError(
            f'answer {index}: {key} path {named!r} resolves outside the corpus directory '
            '(refused; --allow_external_media accepts it)')
  return Answer(index=index, question=raw['question'], **fields)


def _parse_record(record, line: int, corpus_dir: str, decisions: Decisions,
                  allow_external_media: bool) -> Interview:
  """One candidate; raises ValueError on a structural problem."""
  if not isinstance(record, dict):
    raise ValueError('line is not a JSON object')
  for key in ('candidate_id', 'position_id', 'job_title'):
    if key not in record:
      raise ValueError(f'missing field "{key}"')
    if not _is_str(record[key]) or (key != 'job_title' and not record[key]):
      raise ValueError(f'"{key}" must be a non-empty string')
  if 'answers' not in record:
    raise ValueError('missing field "answers"')
  if not isinstance(record['answers'], list) or not record['answers']:
    raise ValueError('"answers" must be a non-empty list')
  label = _parse_label(record, decisions)
  attributes = fairness.parse_attributes(record.get('attributes'))
  split = record.get('split')
  if split is not None and split not in dataset_spec.SPLITS:
    raise ValueError(f'"split" must be one of {", ".join(dataset_spec.SPLITS)}, got '
                     f'{split!r}')
  answers = tuple(_parse_answer(a, i, corpus_dir, allow_external_media)
                  for i, a in enumerate(record['answers']))
  return Interview(
      candidate_id=record['candidate_id'], position_id=record['position_id'],
      job_title=record['job_title'], label=label, answers=answers, line=line, split=split,
      attributes=attributes)


def read_corpus(corpus_dir: str, *, decisions: Decisions = DEFAULT_DECISIONS,
                allow_external_media: bool = False
                ) -> tuple[list[Interview], list[Problem]]:
  """Parses interviews.jsonl: every structurally valid candidate and every problem.

  A problem here excludes the whole line (malformed JSON, missing field, bad label or
  undeclared decision word, duplicate candidate id: the first occurrence is kept, a
  media path resolving outside `corpus_dir` unless `allow_external_media`). Media
  files are not opened.

  Raises:
    CorpusError: the directory or interviews.jsonl cannot be read.
  """
  if not os.path.isdir(corpus_dir):
    raise CorpusError(Problem(corpus_dir, '-', 'corpus directory not found'))
  interviews, problems = [], []
  first_line = {}
  for line_no, record, malformed in read_jsonl(os.path.join(corpus_dir, INTERVIEWS_FILE)):
    where = f'line {line_no}'
    if malformed:
      problems.append(Problem(INTERVIEWS_FILE, where, malformed))
      continue
    cid = record.get('candidate_id') if isinstance(record, dict) else None
    cid = cid if _is_str(cid) and cid else None
    try:
      interview = _parse_record(record, line_no, corpus_dir, decisions,
                                allow_external_media)
    except ValueError as e:
      record_name = f'{where} ({cid})' if cid else where
      problems.append(Problem(INTERVIEWS_FILE, record_name, str(e), candidate_id=cid))
      continue
    if interview.candidate_id in first_line:
      problems.append(Problem(
          INTERVIEWS_FILE, f'{where} ({cid})',
          f'duplicate candidate_id {cid!r} (first on line {first_line[cid]})',
          candidate_id=cid))
      continue
    first_line[interview.candidate_id] = line_no
    interviews.append(interview)
  if not interviews and not problems:
    problems.append(Problem(INTERVIEWS_FILE, '-', 'no interview in the corpus'))
  return interviews, problems


def missing_files(interviews: Iterable[Interview], corpus_dir: str,
                  modalities: Sequence[str]) -> list[Problem]:
  """Answer-level problems for media paths that do not exist."""
  problems = []
  for interview in interviews:
    for answer in interview.answers:
      for modality in modalities:
        if not dataset_spec.modality(modality).frame_features:
          continue  # A transcript is inline, not a file.
        path = answer.source(modality)
        if path is not None and not os.path.isfile(path):
          problems.append(answer_problem(
              interview, answer, modality, path, corpus_dir, 'file not found'))
  return problems


def answer_problem(interview: Interview, answer: Answer, modality: str,
                   file: str | None, corpus_dir: str, reason: str) -> Problem:
  """A problem that drops one answer for one modality."""
  return Problem(
      file=_relative(file, corpus_dir) if file else INTERVIEWS_FILE,
      record=f'{interview.candidate_id} answer {answer.index}',
      reason=f'{modality}: {reason}', candidate_id=interview.candidate_id,
      answer_index=answer.index, modality=modality)


def no_usable_answer(interview: Interview, modality: str) -> Problem:
  return Problem(
      file=INTERVIEWS_FILE, record=f'line {interview.line} ({interview.candidate_id})',
      reason=f'{modality}: no usable answer left', candidate_id=interview.candidate_id,
      modality=modality)
