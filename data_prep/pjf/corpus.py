"""Reads, checks and writes a person-job-fit corpus (docs/pjf_format.md).

A corpus is a directory with `jobs.jsonl`, `resumes.jsonl` and `pairs.jsonl` (and, for a
synthetic corpus, `ground_truth.json`). Every problem is named by file, line, id and
reason; with on_error='skip' exactly the problem records are left out, and so are the
pairs of a left-out job or resume, each of them listed too: nothing is dropped silently.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Any, Mapping

import numpy as np

from data_prep.errors import CorpusError
from data_prep.errors import Problem
from data_prep.errors import read_jsonl
from hirenet_jax.core import fairness
from hirenet_jax.core import run_log
from hirenet_jax.pjf.corpus import SPLITS
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Job
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import Resume
from hirenet_jax.pjf.corpus import Turn

JOBS_FILE = 'jobs.jsonl'
RESUMES_FILE = 'resumes.jsonl'
PAIRS_FILE = 'pairs.jsonl'
GROUND_TRUTH_FILE = 'ground_truth.json'
MANIFEST = 'excluded_manifest.csv'
MANIFEST_COLUMNS = ('file', 'line', 'candidate_id', 'job_id', 'reason')

# How splits are assigned when the pairs carry none (docs/pjf_format.md, Splits).
SPLIT_MODES = ('warm', 'candidate')
DEFAULT_SPLIT_MODE = 'warm'
# 'candidate': fractions of candidates in train / validation / test.
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
# 'warm': fractions of candidates that are training-only / validation / test candidates;
# an evaluated candidate's pairs are dealt half to training, half to its split.
WARM_FRACTIONS = (0.4, 0.2, 0.4)


@dataclasses.dataclass(frozen=True)
class RecordProblem(Problem):
  """A problem of one line of a corpus file, with the ids it names (for the manifest)."""
  line: int | None = None
  job_id: str | None = None


class CorpusProblems(CorpusError):
  """The problems of a corpus read with on_error='fail', all of them listed."""

  MAX_LISTED = 20

  def __init__(self, corpus_dir: str, problems: list[Problem]):
    self.corpus_dir = corpus_dir
    self.problems = list(problems)
    listed = '\n'.join(f'  {p}' for p in self.problems[:self.MAX_LISTED])
    more = len(self.problems) - self.MAX_LISTED
    if more > 0:
      listed += f'\n  ... and {more} more'
    reason = (f'{len(self.problems)} problem(s) (fix them, or read with on_error=skip to '
              f'leave those records out):\n{listed}')
    super().__init__(Problem(corpus_dir, '-', reason))
    self.args = (f'{corpus_dir}: {reason}',)

  def __reduce__(self):
    return CorpusProblems, (self.corpus_dir, self.problems)


def _problem(file: str, line: int | None, reason: str, *, candidate_id: str | None = None,
             job_id: str | None = None) -> RecordProblem:
  ids = [i for i in (candidate_id, job_id) if i]
  record = f'line {line}' if line is not None else '-'
  if ids:
    record += f' ({"/".join(ids)})'
  return RecordProblem(file=file, record=record, reason=reason, candidate_id=candidate_id,
                       line=line, job_id=job_id)


def _id_of(record: Any, key: str) -> str | None:
  value = record.get(key) if isinstance(record, dict) else None
  return value if isinstance(value, str) and value else None


def _require_id(record: dict, key: str) -> str:
  if key not in record:
    raise ValueError(f'missing field "{key}"')
  if not isinstance(record[key], str) or not record[key].strip():
    raise ValueError(f'"{key}" must be a non-empty string, got {record[key]!r}')
  return record[key]


def _require_text(record: dict, key: str) -> str:
  if key not in record:
    raise ValueError(f'missing field "{key}"')
  if not isinstance(record[key], str):
    raise ValueError(f'"{key}" must be a string, got {type(record[key]).__name__}')
  if not record[key].strip():
    raise ValueError(f'empty text: "{key}" is empty')
  return record[key]


def _require_label(record: dict, key: str) -> int:
  if key not in record or record[key] is None:
    raise ValueError(f'missing field "{key}" (0 or 1)')
  value = record[key]
  if isinstance(value, bool) or value not in (0, 1):
    raise ValueError(f'label not 0/1: "{key}" is {value!r}')
  return int(value)


def _parse_dialogue(raw: Any) -> tuple[Turn, ...]:
  if raw is None:
    return ()
  if not isinstance(raw, list):
    raise ValueError('bad dialogue: "dialogue" must be a list of '
                     '{question, answer} objects')
  turns = []
  for i, turn in enumerate(raw):
    if not isinstance(turn, dict):
      raise ValueError(f'bad dialogue: turn {i} is not a JSON object')
    for key in ('question', 'answer'):
      if not isinstance(turn.get(key), str) or not turn[key].strip():
        raise ValueError(f'bad dialogue: turn {i} has no "{key}" (a non-empty string)')
    turns.append(Turn(question=turn['question'], answer=turn['answer']))
  return tuple(turns)


def _parse_lines(corpus_dir: str, name: str, parse, problems: list[Problem],
                 id_keys: tuple[str, ...]):
  """(line, parsed record) for each line `parse` accepts (the others become problems),
  and the number of non-blank lines read."""
  out = []
  lines = read_jsonl(os.path.join(corpus_dir, name))
  for line_no, record, malformed in lines:
    if malformed:
      problems.append(_problem(name, line_no, malformed))
      continue
    ids = {k: _id_of(record, k) for k in id_keys}
    try:
      if not isinstance(record, dict):
        raise ValueError('line is not a JSON object')
      out.append((line_no, parse(record)))
    except ValueError as e:
      problems.append(_problem(name, line_no, str(e), **ids))
  return out, len(lines)


def _parse_job(record: dict) -> Job:
  return Job(job_id=_require_id(record, 'job_id'), title=_require_text(record, 'title'),
             description=_require_text(record, 'description'))


def _parse_resume(record: dict) -> Resume:
  return Resume(candidate_id=_require_id(record, 'candidate_id'),
                text=_require_text(record, 'text'),
                attributes=fairness.parse_attributes(record.get('attributes')))


def _parse_pair(record: dict) -> dict:
  split = record.get('split')
  if split is not None and split not in SPLITS:
    raise ValueError(f'bad split {split!r} (expected one of {", ".join(SPLITS)})')
  return dict(candidate_id=_require_id(record, 'candidate_id'),
              job_id=_require_id(record, 'job_id'),
              job_accepts=_require_label(record, 'job_accepts'),
              candidate_accepts=_require_label(record, 'candidate_accepts'),
              split=split, dialogue=_parse_dialogue(record.get('dialogue')))


def _unique(entries, key: str, name: str, problems: list[Problem]) -> dict:
  """First record of each id; later ones are problems naming the first line."""
  kept, first = {}, {}
  for line_no, record in entries:
    rid = getattr(record, key)
    if rid in kept:
      problems.append(_problem(
          name, line_no, f'duplicate {key} {rid!r} (first on line {first[rid]})',
          **{key: rid}))
      continue
    kept[rid], first[rid] = record, line_no
  return kept


def _candidate_order(ids: list[str], rng: np.random.Generator, fractions
                     ) -> dict[str, str]:
  """Each of the sorted `ids` in a split: a permutation by `rng` cut at `fractions`."""
  order = rng.permutation(len(ids))
  n_first = int(round(fractions[0] * len(ids)))
  n_second = int(round(fractions[1] * len(ids)))
  splits = {}
  for rank, index in enumerate(order):
    splits[ids[index]] = (SPLITS[0] if rank < n_first else
                          SPLITS[1] if rank < n_first + n_second else SPLITS[2])
  return splits


def assign_splits(candidate_ids, seed: int = 0) -> dict[str, str]:
  """Each candidate's split: a seeded permutation of the sorted ids cut 80/10/10.

  By candidate, so no resume is seen in training and evaluated on; sorted first, so the
  assignment depends on the set of candidates and the seed, not on file order.
  """
  ids = sorted(set(candidate_ids))
  return _candidate_order(ids, np.random.default_rng(seed), SPLIT_FRACTIONS)


def assign_warm_splits(pair_ids, seed: int = 0, strata: Mapping[Any, Any] | None = None
                       ) -> dict[tuple[str, str], str]:
  """Each (candidate_id, job_id) pair's split, every evaluated candidate also trained on.

  A seeded permutation of the sorted candidate ids is cut 40/20/40 into training-only,
  validation and test candidates (WARM_FRACTIONS); each evaluated candidate's pairs go
  half (rounded down) to its split and the rest to training. So a model learns every
  evaluated candidate (an id model such as NCF can rank them) and a test job ranks
  several test candidates, not the few a by-candidate split leaves it. A candidate with
  a single pair is training-only.

  The halves are dealt within each stratum of `strata` ((candidate_id, job_id) -> a
  sortable label; read_corpus and the synthetic corpus use both decisions), as the
  authors' split cuts each candidate's positive and negative lists: where a platform samples a fixed mix of positives and
  negatives per candidate, a plain halving gives the held-out half the complement of the
  training half's mix, and a model of the candidate's acceptance rate would rank worse
  than chance. Sorted first: the result depends on the set of pairs and the seed, not on
  their order.
  """
  jobs_of: dict[str, set[str]] = {}
  for candidate_id, job_id in pair_ids:
    jobs_of.setdefault(candidate_id, set()).add(job_id)
  ids = sorted(jobs_of)
  rng = np.random.default_rng(seed)
  role = _candidate_order(ids, rng, WARM_FRACTIONS)
  splits = {}
  for candidate_id in ids:
    jobs = sorted(jobs_of[candidate_id])
    held_out = set()
    if role[candidate_id] != SPLITS[0] and len(jobs) > 1:
      cells: dict[Any, list[str]] = {}
      for job_id in jobs:
        cells.setdefault(strata[(candidate_id, job_id)] if strata else 0, []).append(job_id)
      keys = sorted(cells)
      dealt = []  # Strata in a random order, each one's jobs in a random order.
      for k in rng.permutation(len(keys)):
        cell = cells[keys[k]]
        dealt += [cell[i] for i in rng.permutation(len(cell))]
      held_out = set(dealt[1::2])  # Alternate: each stratum halved up to one pair.
    for job_id in jobs:
      splits[(candidate_id, job_id)] = (role[candidate_id] if job_id in held_out
                                        else SPLITS[0])
  return splits


def _check_split_mode(split_mode: str) -> None:
  if split_mode not in SPLIT_MODES:
    raise ValueError(f'split_mode must be one of {SPLIT_MODES}, got {split_mode!r}')


def assign_pair_splits(pair_ids, seed: int = 0, split_mode: str = DEFAULT_SPLIT_MODE,
                       strata: Mapping[Any, Any] | None = None
                       ) -> dict[tuple[str, str], str]:
  """Each (candidate_id, job_id) pair's split by `split_mode` ('warm': assign_warm_splits
  with `strata`; 'candidate': assign_splits, every pair of a candidate in its
  candidate's split)."""
  _check_split_mode(split_mode)
  pair_ids = list(pair_ids)
  if split_mode == 'warm':
    return assign_warm_splits(pair_ids, seed, strata)
  by_candidate = assign_splits((c for c, _ in pair_ids), seed)
  return {(c, j): by_candidate[c] for c, j in pair_ids}


def read_corpus(corpus_dir: str, *, on_error: str = 'fail', seed: int = 0,
                split_mode: str = DEFAULT_SPLIT_MODE,
                manifest_path: str | None = None) -> tuple[Corpus, list[Problem]]:
  """Parses and checks a corpus directory: the clean corpus and every problem found.

  Args:
    corpus_dir: directory with jobs.jsonl, resumes.jsonl, pairs.jsonl.
    on_error: 'fail' raises CorpusProblems listing every problem; 'skip' leaves out the
      records with a problem (a duplicate keeps its first occurrence) and the pairs that
      name a left-out job or resume, each one a problem of its own.
    seed: seeds the split assigned when no pair carries a `split`.
    split_mode: how that split is assigned: 'warm' (default) or 'candidate'
      (`assign_pair_splits`); pairs that carry splits keep them.
    manifest_path: with on_error='skip', where to write the exclusion manifest (CSV,
      MANIFEST_COLUMNS, one row per left-out record; written even when empty).

  Returns:
    (corpus, problems); problems is empty with on_error='fail'.

  Raises:
    CorpusError: the directory or one of its files cannot be read.
    CorpusProblems: on_error='fail' and some record has a problem.
  """
  if on_error not in ('fail', 'skip'):
    raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
  if not os.path.isdir(corpus_dir):
    raise CorpusError(Problem(corpus_dir, '-', 'corpus directory not found'))
  corpus, problems, _ = check_corpus(corpus_dir, seed=seed, split_mode=split_mode)
  if problems and on_error == 'fail':
    raise CorpusProblems(corpus_dir, problems)
  if on_error == 'skip' and manifest_path:
    write_manifest(manifest_path, problems)
  return corpus, problems


def check_corpus(corpus_dir: str, *, seed: int = 0, split_mode: str = DEFAULT_SPLIT_MODE
                 ) -> tuple[Corpus, list[Problem], dict[str, Any]]:
  """The corpus without its problem records, every problem, and counts of what was read,
  kept and left out (see `format_counts`); `seed` and `split_mode` as in read_corpus."""
  _check_split_mode(split_mode)
  problems: list[Problem] = []
  job_entries, jobs_read = _parse_lines(corpus_dir, JOBS_FILE, _parse_job, problems,
                                       ('job_id',))
  resume_entries, resumes_read = _parse_lines(corpus_dir, RESUMES_FILE, _parse_resume,
                                              problems, ('candidate_id',))
  pair_entries, pairs_read = _parse_lines(corpus_dir, PAIRS_FILE, _parse_pair, problems,
                                          ('candidate_id', 'job_id'))
  jobs = _unique(job_entries, 'job_id', JOBS_FILE, problems)
  resumes = _unique(resume_entries, 'candidate_id', RESUMES_FILE, problems)
  # Ids of records that were present but left out: their pairs go too, named as such.
  excluded = {'job_id': {}, 'candidate_id': {}}
  for p in problems:
    if isinstance(p, RecordProblem) and p.file == JOBS_FILE and p.job_id:
      excluded['job_id'].setdefault(p.job_id, p.line)
    if isinstance(p, RecordProblem) and p.file == RESUMES_FILE and p.candidate_id:
      excluded['candidate_id'].setdefault(p.candidate_id, p.line)
  for key, kept in (('job_id', jobs), ('candidate_id', resumes)):
    for rid in kept:
      excluded[key].pop(rid, None)  # A kept first occurrence: its duplicates do not count.
  known = {'job_id': (jobs, JOBS_FILE), 'candidate_id': (resumes, RESUMES_FILE)}
  kept_pairs, first_line = [], {}
  dropped_with_records = 0
  for line_no, pair in pair_entries:
    ids = dict(candidate_id=pair['candidate_id'], job_id=pair['job_id'])
    reasons = []
    for key, (kept, file) in known.items():
      rid = pair[key]
      if rid in kept:
        continue
      if rid in excluded[key]:
        reasons.append(f'{key} {rid!r} was left out ({file} line {excluded[key][rid]})')
      else:
        reasons.append(f'unknown {key} {rid!r} (not in {file})')
    if reasons:
      if all('was left out' in r for r in reasons):
        dropped_with_records += 1
      problems.append(_problem(PAIRS_FILE, line_no, '; '.join(reasons), **ids))
      continue
    key = (pair['candidate_id'], pair['job_id'])
    if key in first_line:
      problems.append(_problem(PAIRS_FILE, line_no,
                               f'duplicate pair (first on line {first_line[key]})', **ids))
      continue
    first_line[key] = line_no
    kept_pairs.append((line_no, pair))
  with_split = [p for _, p in kept_pairs if p['split'] is not None]
  if with_split and len(with_split) < len(kept_pairs):
    clean = []
    for line_no, pair in kept_pairs:
      if pair['split'] is None:
        problems.append(_problem(
            PAIRS_FILE, line_no, 'bad split: missing while other pairs have one',
            candidate_id=pair['candidate_id'], job_id=pair['job_id']))
      else:
        clean.append((line_no, pair))
    kept_pairs = clean
  assigned = not with_split
  if assigned:
    decisions = {(p['candidate_id'], p['job_id']):
                 (p['job_accepts'], p['candidate_accepts']) for _, p in kept_pairs}
    splits = assign_pair_splits(decisions, seed, split_mode, strata=decisions)
    for _, pair in kept_pairs:
      pair['split'] = splits[(pair['candidate_id'], pair['job_id'])]
  pairs = [Pair(**pair) for _, pair in kept_pairs]
  if not pairs:
    problems.append(Problem(PAIRS_FILE, '-', 'no usable pair in the corpus'))
  problems.sort(key=_problem_order)
  corpus = Corpus(jobs=jobs, resumes=resumes, pairs=pairs,
                  source=os.path.abspath(corpus_dir))
  counts = {
      'jobs_read': jobs_read, 'jobs_kept': len(jobs),
      'resumes_read': resumes_read, 'resumes_kept': len(resumes),
      'pairs_read': pairs_read, 'pairs_kept': len(pairs),
      'pairs_left_out_with_their_records': dropped_with_records,
      'splits_assigned': assigned,
      'split_sizes': {s: sum(p.split == s for p in pairs) for s in SPLITS},
      'job_accepts_rate': _rate(p.job_accepts for p in pairs),
      'candidate_accepts_rate': _rate(p.candidate_accepts for p in pairs),
      'match_rate': _rate(p.match for p in pairs),
      'pairs_with_dialogue': sum(bool(p.dialogue) for p in pairs),
      'problems': len(problems),
  }
  return corpus, problems, counts


def _rate(values) -> float:
  values = list(values)
  return float(np.mean(values)) if values else float('nan')


_FILE_ORDER = {JOBS_FILE: 0, RESUMES_FILE: 1, PAIRS_FILE: 2}


def _problem_order(p: Problem):
  return (_FILE_ORDER.get(p.file, 3), getattr(p, 'line', None) or 0)


def format_counts(counts: dict[str, Any]) -> str:
  """The counts of check_corpus as a few lines for the terminal."""
  sizes = counts['split_sizes']
  how = 'assigned by candidate' if counts['splits_assigned'] else 'from the file'
  return '\n'.join([
      f'Jobs: {counts["jobs_read"]} read, {counts["jobs_kept"]} kept.',
      f'Resumes: {counts["resumes_read"]} read, {counts["resumes_kept"]} kept.',
      f'Pairs: {counts["pairs_read"]} read, {counts["pairs_kept"]} kept '
      f'({counts["pairs_left_out_with_their_records"]} left out with their job or resume).',
      f'Splits ({how}): ' + ', '.join(f'{s} {n}' for s, n in sizes.items()) + '.',
      f'Labels: job accepts {counts["job_accepts_rate"]:.1%}, candidate accepts '
      f'{counts["candidate_accepts_rate"]:.1%}, both (match) {counts["match_rate"]:.1%}; '
      f'{counts["pairs_with_dialogue"]} pair(s) with a dialogue.',
  ])


def manifest_row(problem: Problem) -> dict[str, str]:
  """One manifest row; a record named otherwise than by line goes into the reason."""
  line = getattr(problem, 'line', None)
  reason = problem.reason
  if line is None and problem.record != '-':
    reason = f'{problem.record}: {reason}'
  return {'file': problem.file, 'line': '' if line is None else str(line),
          'candidate_id': problem.candidate_id or '',
          'job_id': getattr(problem, 'job_id', None) or '', 'reason': reason}


def write_manifest(path: str, problems) -> None:
  """Writes the exclusion manifest: one CSV row (MANIFEST_COLUMNS) per left-out record."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
    writer.writeheader()
    writer.writerows(manifest_row(p) for p in problems)


def pair_record(pair: Pair) -> dict[str, Any]:
  record = {'candidate_id': pair.candidate_id, 'job_id': pair.job_id,
            'job_accepts': pair.job_accepts, 'candidate_accepts': pair.candidate_accepts,
            'split': pair.split}
  if pair.dialogue:
    record['dialogue'] = [{'question': t.question, 'answer': t.answer}
                          for t in pair.dialogue]
  return record


def write_corpus(corpus: Corpus, out_dir: str) -> str:
  """Writes `corpus` in the format read_corpus reads (splits written out); returns out_dir.

  read_corpus(write_corpus(c, d))[0] equals c but for `source`, which becomes d.
  """
  os.makedirs(out_dir, exist_ok=True)
  run_log.write_jsonl(os.path.join(out_dir, JOBS_FILE), (
      {'job_id': j.job_id, 'title': j.title, 'description': j.description}
      for j in corpus.jobs.values()))
  run_log.write_jsonl(os.path.join(out_dir, RESUMES_FILE), (
      {'candidate_id': r.candidate_id, 'text': r.text,
       **({'attributes': r.attributes} if r.attributes else {})}
      for r in corpus.resumes.values()))
  run_log.write_jsonl(os.path.join(out_dir, PAIRS_FILE), map(pair_record, corpus.pairs))
  return out_dir


def read_ground_truth(corpus_dir: str) -> dict | None:
  """The corpus's ground_truth.json (a synthetic corpus has one), None when absent."""
  path = os.path.join(corpus_dir, GROUND_TRUTH_FILE)
  if not os.path.isfile(path):
    return None
  try:
    with open(path, encoding='utf-8') as f:
      return json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise CorpusError(Problem(path, '-', f'cannot read: {e}')) from None
