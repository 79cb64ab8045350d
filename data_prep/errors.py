"""Errors raised on bad corpus input: each names the file, the record and the reason.

Both systems' corpus readers (data_prep.hirenet, data_prep.pjf) read their JSONL files
and print their problems through this module."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Any


@dataclasses.dataclass(frozen=True)
class Problem:
  """One problem found in a corpus.

  `file` is the path (relative to the corpus when possible), `record` a line number
  ("line 12"), a candidate id ("c00042") or a candidate/answer pair ("c00042 answer 3"),
  and `reason` a short human sentence.
  """
  file: str
  record: str
  reason: str
  candidate_id: str | None = None
  answer_index: int | None = None  # 0-based; None when the whole candidate is concerned.
  modality: str | None = None  # 'text' | 'audio' | 'video'; None for the whole record.

  def __str__(self) -> str:
    return f'{self.file}: {self.record}: {self.reason}'


class CorpusError(Exception):
  """A corpus problem that stops the run (`--on_error=fail`)."""

  def __init__(self, problem: Problem | str, file: str = '', record: str = ''):
    if isinstance(problem, str):
      problem = Problem(file=file, record=record, reason=problem)
    self.problem = problem
    super().__init__(str(problem))

  def __reduce__(self):
    return CorpusError, (self.problem,)


class FeatureError(Exception):
  """Feature extraction failed for one media file; the caller adds the record."""

  def __init__(self, path: str, reason: str):
    self.path = path
    self.reason = reason
    super().__init__(f'{path}: {reason}')

  def __reduce__(self):  # Crosses process pools intact.
    return FeatureError, (self.path, self.reason)


def read_jsonl(path: str) -> list[tuple[int, Any, str | None]]:
  """`(line number, record, problem)` for every non-blank line of a JSONL corpus file:
  `problem` names malformed JSON (the record is then None), so each corpus reader reports
  bad lines the same way and keeps reading.

  Raises:
    CorpusError: the file is missing or cannot be read.
  """
  name = os.path.basename(path)
  if not os.path.isfile(path):
    raise CorpusError(Problem(path, '-', f'{name} not found'))
  try:
    with open(path, encoding='utf-8') as f:
      lines = [(i, text) for i, text in enumerate(f, start=1) if text.strip()]
  except (OSError, UnicodeDecodeError) as e:
    raise CorpusError(Problem(path, '-', f'cannot read: {e}')) from None
  out = []
  for line_no, text in lines:
    try:
      out.append((line_no, json.loads(text), None))
    except json.JSONDecodeError as e:
      out.append((line_no, None, f'malformed JSON: {e.msg}'))
  return out


MANIFEST_COLUMNS = ('candidate_id', 'answer_index', 'modality', 'file', 'reason')


class ProblemLog:
  """Collects problems; with on_error='fail' the first one raises CorpusError."""

  def __init__(self, on_error: str):
    if on_error not in ('fail', 'skip'):
      raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    self.on_error = on_error
    self.problems: list[Problem] = []

  def add(self, problem: Problem) -> None:
    if self.on_error == 'fail':
      raise CorpusError(problem)
    self.problems.append(problem)

  def extend(self, problems) -> None:
    for problem in problems:
      self.add(problem)


def manifest_row(problem: Problem) -> dict[str, str]:
  """One excluded_manifest.csv row; the line number goes into the reason."""
  reason = problem.reason
  if problem.record.startswith('line') or problem.candidate_id is None:
    reason = f'{problem.record}: {reason}'
  return {
      'candidate_id': problem.candidate_id or '',
      'answer_index': '' if problem.answer_index is None else str(problem.answer_index),
      'modality': problem.modality or 'all',
      'file': problem.file,
      'reason': reason,
  }


def write_manifest(path: str, problems, *, replace_modalities=None) -> None:
  """Writes excluded_manifest.csv (columns MANIFEST_COLUMNS).

  With `replace_modalities`, rows of other modalities already in the file are kept,
  so building text then audio into one data_dir lists the exclusions of both.
  """
  rows = []
  if replace_modalities is not None and os.path.exists(path):
    with open(path, newline='', encoding='utf-8') as f:
      rows = [r for r in csv.DictReader(f)
              if r.get('modality') not in set(replace_modalities)]
  rows += [manifest_row(p) for p in problems]
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def print_problems(problems, counts_text: str, *, max_listed: int, manifest: str,
                   reason_key=lambda p: p.reason.split(' (')[0]) -> bool:
  """What the validate commands print: the first `max_listed` problems, the counts and a
  summary by reason with the way out; True when the corpus has no problem."""
  import collections  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  for p in problems[:max_listed]:
    print(f'error: {p}', file=sys.stderr)
  if len(problems) > max_listed:
    print(f'... and {len(problems) - max_listed} more', file=sys.stderr)
  print(counts_text)
  if not problems:
    print('Corpus OK.')
    return True
  by_reason = collections.Counter(reason_key(p) for p in problems)
  summary = ', '.join(f'{n} x {r}' for r, n in by_reason.most_common(5))
  print(f'{len(problems)} problem(s) ({summary}). Fix them, or use --on_error=skip to '
        f'leave the records out and list them in {manifest}.', file=sys.stderr)
  return False
