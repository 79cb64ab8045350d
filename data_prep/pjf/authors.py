"""Reads the MockLLM authors' data layout (github.com/p1nksnow/PJF_interview) into a Corpus.

Their directory holds:
  doc.json           {"resume": {gid: text}, "JD": {bid: text}}
  sample.json        {"geek": {gid: {"pos": [bid...], "neg": [bid...]}},
                      "boss": {bid: {"pos": [gid...], "neg": [gid...]}}}
  dialogs_data.json  {"gid-bid": {"dialog": "面试官：...\\n\\n应聘者：...\\n\\n...",
                                  "dialog_len": n}}   (optional)

A geek (candidate) list says whether the candidate accepts each job: `candidate_accepts`;
a boss (job) list says whether the recruiter accepts each candidate: `job_accepts`. A pair
listed on one side only gets 0 on the other (no acceptance recorded, so no handshake) or,
with one_sided='drop', is left out and counted. Texts are Chinese: `tokenize` segments
them with jieba where words are needed.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from data_prep.pjf import corpus as pjf_corpus
from data_prep.errors import CorpusError
from data_prep.errors import Problem
from data_prep.pjf.corpus import RecordProblem
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Job
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import Resume
from hirenet_jax.pjf.corpus import Turn

DOC_FILE = 'doc.json'
SAMPLE_FILE = 'sample.json'
DIALOGS_FILE = 'dialogs_data.json'
INTERVIEWER, CANDIDATE = '面试官', '应聘者'
_SPEAKER = re.compile(rf'({INTERVIEWER}|{CANDIDATE})\s*[:：]')
TITLE_CHARS = 40  # The authors' jobs have no title: the first line, cut to this length.
ONE_SIDED = ('negative', 'drop')


def tokenize(text: str) -> list[str]:
  """Words of a Chinese (or mixed) text, segmented by jieba; spaces dropped."""
  import logging  # pylint: disable=g-import-not-at-top
  import jieba  # pylint: disable=g-import-not-at-top
  jieba.setLogLevel(logging.WARNING)  # Its dictionary-loading banner is not ours to print.
  return [t for t in jieba.lcut(text) if t.strip()]


def _load(authors_dir: str, name: str, required: bool = True) -> Any:
  path = os.path.join(authors_dir, name)
  if not os.path.isfile(path):
    if required:
      raise CorpusError(Problem(path, '-', f'{name} not found'))
    return None
  try:
    with open(path, encoding='utf-8') as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise CorpusError(Problem(path, f'line {e.lineno}',
                              f'malformed JSON: {e.msg}')) from None
  except (OSError, UnicodeDecodeError) as e:
    raise CorpusError(Problem(path, '-', f'cannot read: {e}')) from None


def _problem(file: str, record: str, reason: str, *, candidate_id: str | None = None,
             job_id: str | None = None) -> RecordProblem:
  return RecordProblem(file=file, record=record, reason=reason, candidate_id=candidate_id,
                       job_id=job_id)


def _object(value: Any, file: str, record: str) -> dict:
  if not isinstance(value, dict):
    raise CorpusError(Problem(file, record, f'must be a JSON object, got '
                              f'{type(value).__name__}'))
  return value


def _texts(doc: dict, key: str, id_key: str, problems: list[Problem]) -> dict[str, str]:
  texts = {}
  for rid, text in _object(doc.get(key), DOC_FILE, key).items():
    record = f'{key}[{rid!r}]'
    if not isinstance(text, str):
      problems.append(_problem(DOC_FILE, record, f'text must be a string, got '
                               f'{type(text).__name__}', **{id_key: rid}))
    elif not text.strip():
      problems.append(_problem(DOC_FILE, record, 'empty text', **{id_key: rid}))
    else:
      texts[rid] = text
  return texts


def _title(description: str) -> str:
  first = next(line.strip() for line in description.splitlines() if line.strip())
  return first[:TITLE_CHARS]


def _missing(kind: str, rid: str, doc_ids: set[str]) -> str:
  if rid in doc_ids:
    return f'{kind} {rid!r} was left out (its {DOC_FILE} text has a problem)'
  return f'unknown {kind} {rid!r} (not in {DOC_FILE})'


def _side_labels(sample: dict, side: str, owners: dict, others: dict,
                 problems: list[Problem], doc_ids: dict[str, set[str]]
                 ) -> dict[tuple[str, str], int]:
  """(candidate, job) -> label from one side's pos/neg lists, problems named by path."""
  owner_key, other_key = (('candidate_id', 'job_id') if side == 'geek'
                          else ('job_id', 'candidate_id'))
  labels: dict[tuple[str, str], int] = {}
  where: dict[tuple[str, str], str] = {}
  for owner, lists in _object(sample.get(side), SAMPLE_FILE, side).items():
    record = f'{side}[{owner!r}]'
    if owner not in owners:
      problems.append(_problem(SAMPLE_FILE, record,
                               _missing(owner_key, owner, doc_ids[owner_key]),
                               **{owner_key: owner}))
      continue
    if not isinstance(lists, dict):
      problems.append(_problem(SAMPLE_FILE, record, 'must be an object with "pos" and '
                               '"neg" lists', **{owner_key: owner}))
      continue
    for name, label in (('pos', 1), ('neg', 0)):
      ids = lists.get(name, [])
      if not isinstance(ids, list):
        problems.append(_problem(SAMPLE_FILE, f'{record}.{name}', 'must be a list of ids',
                                 **{owner_key: owner}))
        continue
      for i, other in enumerate(ids):
        item = f'{record}.{name}[{i}]'
        ids_of = {owner_key: owner, other_key: other if isinstance(other, str) else None}
        if not isinstance(other, str) or not other:
          problems.append(_problem(SAMPLE_FILE, item, f'{other_key} must be a non-empty '
                                   f'string, got {other!r}', **ids_of))
          continue
        if other not in others:
          problems.append(_problem(SAMPLE_FILE, item,
                                   _missing(other_key, other, doc_ids[other_key]),
                                   **ids_of))
          continue
        key = (owner, other) if side == 'geek' else (other, owner)
        if key in labels:
          kind = 'duplicate' if labels[key] == label else 'conflicting'
          problems.append(_problem(SAMPLE_FILE, item, f'{kind} entry (first at '
                                   f'{where[key]})', **ids_of))
          continue
        labels[key], where[key] = label, item
  return labels


def _parse_dialog(text: Any) -> tuple[Turn, ...]:
  """Turns of a '面试官：...应聘者：...' transcript; raises ValueError on a bad one."""
  if not isinstance(text, str) or not text.strip():
    raise ValueError('bad dialogue: "dialog" must be a non-empty string')
  parts = _SPEAKER.split(text)
  if parts[0].strip():
    raise ValueError('bad dialogue: text before the first speaker '
                     f'({parts[0].strip()[:20]!r})')
  turns, question = [], None
  for k in range(1, len(parts), 2):
    speaker, said = parts[k], parts[k + 1].strip()
    index = len(turns)
    if not said:
      raise ValueError(f'bad dialogue: turn {index}: {speaker} says nothing')
    if speaker == INTERVIEWER:
      if question is not None:
        raise ValueError(f'bad dialogue: turn {index}: two questions in a row')
      question = said
    else:
      if question is None:
        raise ValueError(f'bad dialogue: turn {index}: an answer without a question')
      turns.append(Turn(question=question, answer=said))
      question = None
  if question is not None:
    raise ValueError(f'bad dialogue: turn {len(turns)}: the last question has no answer')
  if not turns:
    raise ValueError('bad dialogue: no turn')
  return tuple(turns)


def _dialogues(raw: Any, pairs: set[tuple[str, str]], candidates: dict, jobs: dict,
               problems: list[Problem]) -> dict[tuple[str, str], tuple[Turn, ...]]:
  """Dialogues by pair; a bad one is a problem and its pair keeps no dialogue."""
  out = {}
  for key, entry in _object(raw, DIALOGS_FILE, '-').items():
    record = f'[{key!r}]'
    splits = [(key[:i], key[i + 1:]) for i, ch in enumerate(key) if ch == '-']
    named = [s for s in splits if s[0] in candidates and s[1] in jobs]
    if not named:
      problems.append(_problem(DIALOGS_FILE, record, 'key must be "<gid>-<bid>" of a '
                               f'resume and a JD in {DOC_FILE}'))
      continue
    gid, bid = named[0]
    if (gid, bid) not in pairs:
      problems.append(_problem(DIALOGS_FILE, record,
                               f'dialogue of a pair not in {SAMPLE_FILE} (or left out)',
                               candidate_id=gid, job_id=bid))
      continue
    try:
      if not isinstance(entry, dict):
        raise ValueError('bad dialogue: entry must be an object with "dialog"')
      out[(gid, bid)] = _parse_dialog(entry.get('dialog'))
    except ValueError as e:
      problems.append(_problem(DIALOGS_FILE, record, f'{e} (pair kept without dialogue)',
                               candidate_id=gid, job_id=bid))
  return out


def read_authors(authors_dir: str, *, on_error: str = 'fail', one_sided: str = 'negative',
                 seed: int = 0) -> tuple[Corpus, list[Problem], dict[str, int]]:
  """The authors' layout as a Corpus, with every problem and the counts of what was kept.

  Args:
    authors_dir: directory with doc.json, sample.json and optionally dialogs_data.json.
    on_error: 'fail' raises CorpusProblems listing every problem; 'skip' leaves out the
      records named (a text, a list entry, a dialogue) and returns them.
    one_sided: a pair listed by one side only gets 0 on the other ('negative') or is
      left out ('drop'), counted in `counts['pairs_one_sided_dropped']`.
    seed: the by-candidate 80/10/10 split (pjf_corpus.assign_splits). The authors' own
      split (the first 60% of each list for training) is not kept: one pair could fall
      in training on one side and in test on the other.

  Raises:
    CorpusError: a file is missing (dialogs_data.json may be), unreadable or not the
      expected JSON objects.
  """
  if on_error not in ('fail', 'skip'):
    raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
  if one_sided not in ONE_SIDED:
    raise ValueError(f'one_sided must be one of {ONE_SIDED}, got {one_sided!r}')
  if not os.path.isdir(authors_dir):
    raise CorpusError(Problem(authors_dir, '-', 'directory not found'))
  doc = _object(_load(authors_dir, DOC_FILE), DOC_FILE, '-')
  sample = _object(_load(authors_dir, SAMPLE_FILE), SAMPLE_FILE, '-')
  dialogs = _load(authors_dir, DIALOGS_FILE, required=False)
  problems: list[Problem] = []
  resumes = _texts(doc, 'resume', 'candidate_id', problems)
  jds = _texts(doc, 'JD', 'job_id', problems)
  doc_ids = {'candidate_id': set(doc['resume']), 'job_id': set(doc['JD'])}
  candidate_side = _side_labels(sample, 'geek', resumes, jds, problems, doc_ids)
  job_side = _side_labels(sample, 'boss', jds, resumes, problems, doc_ids)
  order = list(candidate_side) + [k for k in job_side if k not in candidate_side]
  counts = {'pairs_both_sides': sum(k in job_side for k in candidate_side),
            'pairs_candidate_side_only': sum(k not in job_side for k in candidate_side),
            'pairs_job_side_only': sum(k not in candidate_side for k in job_side)}
  if one_sided == 'drop':
    order = [k for k in order if k in candidate_side and k in job_side]
  counts['pairs_one_sided_dropped'] = (
      counts['pairs_candidate_side_only'] + counts['pairs_job_side_only']
      if one_sided == 'drop' else 0)
  turns = {}
  if dialogs is not None:
    turns = _dialogues(dialogs, set(order), resumes, jds, problems)
  if problems and on_error == 'fail':
    raise pjf_corpus.CorpusProblems(authors_dir, problems)
  splits = pjf_corpus.assign_splits((g for g, _ in order), seed)
  pairs = [Pair(candidate_id=g, job_id=b, job_accepts=job_side.get((g, b), 0),
                candidate_accepts=candidate_side.get((g, b), 0), split=splits[g],
                dialogue=turns.get((g, b), ())) for g, b in order]
  corpus = Corpus(
      jobs={b: Job(job_id=b, title=_title(t), description=t) for b, t in jds.items()},
      resumes={g: Resume(candidate_id=g, text=t) for g, t in resumes.items()},
      pairs=pairs, source=os.path.abspath(authors_dir))
  counts.update(jobs=len(corpus.jobs), resumes=len(corpus.resumes), pairs=len(pairs),
                pairs_with_dialogue=len(turns), problems=len(problems))
  return corpus, problems, counts
