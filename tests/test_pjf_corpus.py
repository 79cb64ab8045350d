"""data_prep.pjf.corpus: every bad record named by file, line, id and reason; on_error=skip
leaves out exactly those records (listed in the manifest); write/read round trip; the
warm and by-candidate splits are seeded, order-free and cut as documented."""

from __future__ import annotations

import csv
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from data_prep.pjf import corpus as pjf_corpus
from data_prep.errors import CorpusError
from hirenet_jax.pjf.corpus import SPLITS
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Job
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import Resume
from hirenet_jax.pjf.corpus import Turn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

JOBS = [{'job_id': 'j1', 'title': 'Data Analyst', 'description': 'SQL and Python.'},
        {'job_id': 'j2', 'title': 'Accountant', 'description': 'IFRS, Excel.'}]
RESUMES = [{'candidate_id': 'c1', 'text': 'I led our SQL migration.'},
           {'candidate_id': 'c2', 'text': 'Followed an IFRS course.'},
           {'candidate_id': 'c3', 'text': 'Payroll for six years.'}]
PAIRS = [{'candidate_id': 'c1', 'job_id': 'j1', 'job_accepts': 1, 'candidate_accepts': 1,
          'dialogue': [{'question': 'SQL?', 'answer': 'Yes, daily.'}]},
         {'candidate_id': 'c1', 'job_id': 'j2', 'job_accepts': 0, 'candidate_accepts': 1},
         {'candidate_id': 'c2', 'job_id': 'j2', 'job_accepts': 1, 'candidate_accepts': 0},
         {'candidate_id': 'c3', 'job_id': 'j1', 'job_accepts': 0, 'candidate_accepts': 0}]


def _write(path, name, lines):
  with open(os.path.join(path, name), 'w', encoding='utf-8') as f:
    for line in lines:
      f.write((line if isinstance(line, str) else json.dumps(line)) + '\n')


def _corpus_dir(tmp_path, jobs=JOBS, resumes=RESUMES, pairs=PAIRS):
  d = str(tmp_path / 'corpus')
  os.makedirs(d, exist_ok=True)
  _write(d, 'jobs.jsonl', jobs)
  _write(d, 'resumes.jsonl', resumes)
  _write(d, 'pairs.jsonl', pairs)
  return d


def test_clean_corpus_reads_every_record_in_order(tmp_path):
  corpus, problems = pjf_corpus.read_corpus(_corpus_dir(tmp_path))
  assert problems == []
  assert list(corpus.jobs) == ['j1', 'j2'] and list(corpus.resumes) == ['c1', 'c2', 'c3']
  assert [(p.candidate_id, p.job_id) for p in corpus.pairs] == [
      ('c1', 'j1'), ('c1', 'j2'), ('c2', 'j2'), ('c3', 'j1')]
  assert corpus.pairs[0].dialogue == (Turn('SQL?', 'Yes, daily.'),)
  assert [p.match for p in corpus.pairs] == [1, 0, 0, 0]



# (file, bad record, expected line, expected ids in the record, expected reason fragment)
CASES = [
    ('jobs.jsonl', '{"job_id": "j9", "title": ', 3, '', 'malformed JSON'),
    ('jobs.jsonl', '[1, 2]', 3, '', 'not a JSON object'),
    ('jobs.jsonl', {'title': 'T', 'description': 'D'}, 3, '', 'missing field "job_id"'),
    ('jobs.jsonl', {'job_id': 7, 'title': 'T', 'description': 'D'}, 3, '',
     '"job_id" must be a non-empty string'),
    ('jobs.jsonl', {'job_id': 'j9', 'title': 'T', 'description': '  '}, 3, 'j9',
     'empty text: "description"'),
    ('jobs.jsonl', {'job_id': 'j9', 'description': 'D'}, 3, 'j9', 'missing field "title"'),
    ('jobs.jsonl', {'job_id': 'j1', 'title': 'T', 'description': 'D'}, 3, 'j1',
     "duplicate job_id 'j1' (first on line 1)"),
    ('resumes.jsonl', {'candidate_id': 'c9', 'text': ''}, 4, 'c9', 'empty text: "text"'),
    ('resumes.jsonl', {'candidate_id': 'c9', 'text': 3}, 4, 'c9', '"text" must be a string'),
    ('resumes.jsonl', {'candidate_id': 'c2', 'text': 'again'}, 4, 'c2',
     "duplicate candidate_id 'c2' (first on line 2)"),
    ('pairs.jsonl', {'candidate_id': 'c9', 'job_id': 'j1', 'job_accepts': 1,
                     'candidate_accepts': 1}, 5, 'c9/j1', "unknown candidate_id 'c9'"),
    ('pairs.jsonl', {'candidate_id': 'c2', 'job_id': 'j7', 'job_accepts': 1,
                     'candidate_accepts': 1}, 5, 'c2/j7', "unknown job_id 'j7'"),
    ('pairs.jsonl', {'candidate_id': 'c1', 'job_id': 'j2', 'job_accepts': 1,
                     'candidate_accepts': 1}, 5, 'c1/j2', 'duplicate pair (first on line 2)'),
    ('pairs.jsonl', {'candidate_id': 'c2', 'job_id': 'j1', 'job_accepts': 2,
                     'candidate_accepts': 1}, 5, 'c2/j1', 'label not 0/1: "job_accepts" is 2'),
    ('pairs.jsonl', {'candidate_id': 'c2', 'job_id': 'j1', 'job_accepts': True,
                     'candidate_accepts': 1}, 5, 'c2/j1', 'label not 0/1'),
    ('pairs.jsonl', {'candidate_id': 'c2', 'job_id': 'j1', 'job_accepts': 1}, 5, 'c2/j1',
     'missing field "candidate_accepts"'),
    ('pairs.jsonl', {'candidate_id': 'c2', 'job_id': 'j1', 'job_accepts': 1,
                     'candidate_accepts': 0, 'split': 'dev'}, 5, 'c2/j1', "bad split 'dev'"),
    ('pairs.jsonl', {'candidate_id': 'c2', 'job_id': 'j1', 'job_accepts': 1,
                     'candidate_accepts': 0, 'dialogue': [{'question': 'Q?'}]}, 5, 'c2/j1',
     'bad dialogue: turn 0 has no "answer"'),
    ('pairs.jsonl', {'candidate_id': 'c2', 'job_id': 'j1', 'job_accepts': 1,
                     'candidate_accepts': 0, 'dialogue': 'Q? A.'}, 5, 'c2/j1',
     'bad dialogue'),
]


def _with_bad(case):
  file, bad = case[0], case[1]
  tables = {'jobs.jsonl': list(JOBS), 'resumes.jsonl': list(RESUMES),
            'pairs.jsonl': list(PAIRS)}
  tables[file].append(bad)
  return tables['jobs.jsonl'], tables['resumes.jsonl'], tables['pairs.jsonl']


@pytest.mark.parametrize('case', CASES, ids=[c[4] for c in CASES])
def test_each_bad_record_is_named_by_file_line_id_and_reason(tmp_path, case):
  file, _, line, ids, reason = case
  d = _corpus_dir(tmp_path, *_with_bad(case))
  with pytest.raises(pjf_corpus.CorpusProblems) as e:
    pjf_corpus.read_corpus(d)
  assert len(e.value.problems) == 1, e.value.problems
  problem = e.value.problems[0]
  assert problem.file == file and problem.line == line
  assert reason in problem.reason
  expected_record = f'line {line}' + (f' ({ids})' if ids else '')
  assert problem.record == expected_record
  assert f'{file}: {expected_record}: ' in str(e.value)
  # Skipping leaves out exactly that record: the clean corpus is what remains.
  corpus, problems = pjf_corpus.read_corpus(d, on_error='skip')
  assert problems == e.value.problems
  clean, _ = pjf_corpus.read_corpus(_corpus_dir(tmp_path / 'clean'))
  assert corpus.jobs == clean.jobs and corpus.resumes == clean.resumes
  assert corpus.pairs == clean.pairs


def test_skip_leaves_out_pairs_of_left_out_records_and_lists_each(tmp_path):
  jobs = [JOBS[0], {'job_id': 'j2', 'title': 'Accountant', 'description': ''}]
  resumes = [RESUMES[0], RESUMES[1], {'candidate_id': 'c3', 'text': 'x', 'extra': 1},
             '{broken']
  pairs = PAIRS + [{'candidate_id': 'c4', 'job_id': 'j1', 'job_accepts': 1,
                    'candidate_accepts': 1}]
  d = _corpus_dir(tmp_path, jobs, resumes, pairs)
  manifest = str(tmp_path / 'out' / pjf_corpus.MANIFEST)
  corpus, problems = pjf_corpus.read_corpus(d, on_error='skip', manifest_path=manifest)
  # j2's description is empty: j2 and its two pairs go; c4 was never there.
  assert list(corpus.jobs) == ['j1']
  assert [(p.candidate_id, p.job_id) for p in corpus.pairs] == [('c1', 'j1'), ('c3', 'j1')]
  with open(manifest, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  assert [(r['file'], r['line'], r['candidate_id'], r['job_id']) for r in rows] == [
      ('jobs.jsonl', '2', '', 'j2'), ('resumes.jsonl', '4', '', ''),
      ('pairs.jsonl', '2', 'c1', 'j2'), ('pairs.jsonl', '3', 'c2', 'j2'),
      ('pairs.jsonl', '5', 'c4', 'j1')]
  assert "job_id 'j2' was left out (jobs.jsonl line 2)" in rows[2]['reason']
  assert "unknown candidate_id 'c4'" in rows[4]['reason']
  _, _, counts = pjf_corpus.check_corpus(d)
  assert counts['pairs_read'] == 5 and counts['pairs_kept'] == 2
  assert counts['pairs_left_out_with_their_records'] == 2
  assert counts['resumes_read'] == 4 and counts['resumes_kept'] == 3
  assert counts['problems'] == len(rows)


def test_missing_file_or_directory_is_a_corpus_error(tmp_path):
  d = _corpus_dir(tmp_path)
  os.remove(os.path.join(d, 'resumes.jsonl'))
  with pytest.raises(CorpusError, match='resumes.jsonl not found'):
    pjf_corpus.read_corpus(d)
  with pytest.raises(CorpusError, match='corpus directory not found'):
    pjf_corpus.read_corpus(str(tmp_path / 'nowhere'))


def test_split_given_on_some_pairs_only_names_the_others(tmp_path):
  pairs = [dict(p, split='train') for p in PAIRS[:3]] + [PAIRS[3]]
  with pytest.raises(pjf_corpus.CorpusProblems) as e:
    pjf_corpus.read_corpus(_corpus_dir(tmp_path, pairs=pairs))
  [problem] = e.value.problems
  assert problem.line == 4 and 'missing while other pairs have one' in problem.reason


def test_given_splits_are_kept(tmp_path):
  pairs = [dict(p, split=s) for p, s in zip(PAIRS, ('test', 'train', 'validation', 'test'))]
  corpus, _ = pjf_corpus.read_corpus(_corpus_dir(tmp_path, pairs=pairs))
  assert [p.split for p in corpus.pairs] == ['test', 'train', 'validation', 'test']


def test_assigned_splits_are_by_candidate_80_10_10_and_seeded():
  ids = [f'c{i:03d}' for i in range(200)]
  a = pjf_corpus.assign_splits(ids, seed=0)
  assert a == pjf_corpus.assign_splits(list(reversed(ids)) + ids[:5], seed=0)
  assert a != pjf_corpus.assign_splits(ids, seed=1)
  sizes = [sum(s == name for s in a.values()) for name in SPLITS]
  assert sizes == [160, 20, 20]


def test_candidate_split_mode_keeps_each_candidate_in_one_split(tmp_path):
  corpus, _ = pjf_corpus.read_corpus(_corpus_dir(tmp_path), seed=3, split_mode='candidate')
  for pairs in corpus.by_candidate().values():
    assert len({p.split for p in pairs}) == 1
  by_candidate = pjf_corpus.assign_splits(corpus.resumes, seed=3)
  assert all(p.split == by_candidate[p.candidate_id] for p in corpus.pairs)
  again, _ = pjf_corpus.read_corpus(_corpus_dir(tmp_path), seed=3, split_mode='candidate')
  assert again.pairs == corpus.pairs


def _grid_pairs(num_candidates=200, jobs_per_candidate=10, num_jobs=50):
  """Each candidate paired with `jobs_per_candidate` distinct jobs, a spread of ids."""
  rng = np.random.default_rng(7)
  return [(f'c{i:03d}', f'j{j:02d}') for i in range(num_candidates)
          for j in sorted(rng.choice(num_jobs, jobs_per_candidate, replace=False))]


def test_warm_split_is_seeded_and_independent_of_pair_order():
  pairs = _grid_pairs()
  a = pjf_corpus.assign_warm_splits(pairs, seed=0)
  shuffled = [pairs[i] for i in np.random.default_rng(1).permutation(len(pairs))]
  assert a == pjf_corpus.assign_warm_splits(shuffled, seed=0)
  assert a == pjf_corpus.assign_pair_splits(pairs, seed=0)  # The default mode.
  assert a != pjf_corpus.assign_warm_splits(pairs, seed=1)
  assert set(a) == set(pairs)


def test_warm_split_trains_on_every_evaluated_candidate_at_the_documented_fractions():
  pairs = _grid_pairs()
  splits = pjf_corpus.assign_warm_splits(pairs, seed=4)
  by_candidate = {}
  for (c, _), split in splits.items():
    by_candidate.setdefault(c, []).append(split)
  roles = {}
  for c, s in by_candidate.items():
    evaluated = set(s) - {'train'}
    assert len(evaluated) <= 1, (c, s)  # One evaluation split per candidate.
    role = evaluated.pop() if evaluated else 'train'
    roles[c] = role
    if role != 'train':
      assert s.count(role) == 5 and s.count('train') == 5, (c, s)
  assert [sum(r == name for r in roles.values()) for name in SPLITS] == [80, 40, 80]
  assert [sum(s == name for s in splits.values()) for name in SPLITS] == [1400, 200, 400]
  # Every job of the test pairs is also trained on here (50 jobs, 1,400 training pairs).
  train_jobs = {j for (_, j), s in splits.items() if s == 'train'}
  assert {j for (_, j), s in splits.items() if s == 'test'} <= train_jobs


def test_warm_split_halves_each_stratum_of_an_evaluated_candidate():
  pairs = _grid_pairs()
  strata = {pair: (i * 7 % 3, i % 2) for i, pair in enumerate(pairs)}
  splits = pjf_corpus.assign_warm_splits(pairs, seed=6, strata=strata)
  assert splits == pjf_corpus.assign_pair_splits(reversed(pairs), 6, 'warm', strata)
  cells = {}
  for pair, split in splits.items():
    cells.setdefault((pair[0], strata[pair]), []).append(split)
  evaluated = {c for (c, _), s in splits.items() if s != 'train'}
  assert len(evaluated) == 120
  for (c, _), s in cells.items():
    if c in evaluated:
      assert abs(2 * s.count('train') - len(s)) <= 1, (c, s)
  per_candidate = {}
  for (c, _), s in splits.items():
    per_candidate.setdefault(c, []).append(s)
  assert all(s.count('train') == 5 for c, s in per_candidate.items() if c in evaluated)


def test_warm_split_rounds_down_and_leaves_single_pair_candidates_in_training():
  pairs = [(f'c{i}', f'j{k}') for i in range(10) for k in range(i % 4)]
  splits = pjf_corpus.assign_warm_splits(pairs, seed=2)
  per_candidate = {}
  for (c, _), split in splits.items():
    per_candidate.setdefault(c, []).append(split)
  for c, s in per_candidate.items():
    assert s.count('train') >= len(s) - len(s) // 2, (c, s)
    if len(s) == 1:
      assert s == ['train']


def test_read_corpus_assigns_warm_splits_by_default_and_refuses_an_unknown_mode(tmp_path):
  d = _corpus_dir(tmp_path)
  corpus, _ = pjf_corpus.read_corpus(d, seed=5)
  decisions = {(p['candidate_id'], p['job_id']): (p['job_accepts'], p['candidate_accepts'])
               for p in PAIRS}
  expected = pjf_corpus.assign_warm_splits(decisions, seed=5, strata=decisions)
  assert {(p.candidate_id, p.job_id): p.split for p in corpus.pairs} == expected
  with pytest.raises(ValueError, match='split_mode'):
    pjf_corpus.read_corpus(d, split_mode='job')
  with pytest.raises(ValueError, match='split_mode'):
    pjf_corpus.assign_pair_splits([('c1', 'j1')], split_mode='random')


def test_write_then_read_is_the_same_corpus(tmp_path):
  corpus = Corpus(
      jobs={'b7': Job('b7', '数据分析师', '熟悉SQL。\n\nPython 优先'),
            'a1': Job('a1', 'Dev "ops"', 'Line one\nline two')},
      resumes={'z': Resume('z', 'Résumé with\ttabs and "quotes"'),
               'y': Resume('y', '我做了三年Java开发')},
      pairs=[Pair('z', 'b7', 1, 0, 'test', (Turn('Q1', 'A1'), Turn('问题', '回答'))),
             Pair('y', 'a1', 0, 1, 'train'), Pair('y', 'b7', 1, 1, 'validation')],
      source='made by hand')
  out = pjf_corpus.write_corpus(corpus, str(tmp_path / 'rt'))
  back, problems = pjf_corpus.read_corpus(out)
  assert problems == []
  assert back == Corpus(corpus.jobs, corpus.resumes, corpus.pairs, os.path.abspath(out))
  assert list(back.jobs) == ['b7', 'a1']  # Order kept, not sorted.
  pjf_corpus.write_corpus(back, str(tmp_path / 'rt2'))
  for name in ('jobs.jsonl', 'resumes.jsonl', 'pairs.jsonl'):
    assert (tmp_path / 'rt' / name).read_bytes() == (tmp_path / 'rt2' / name).read_bytes()


def test_corpus_problems_survive_pickling(tmp_path):
  d = _corpus_dir(tmp_path, *_with_bad(CASES[0]))
  with pytest.raises(pjf_corpus.CorpusProblems) as e:
    pjf_corpus.read_corpus(d)
  back = pickle.loads(pickle.dumps(e.value))
  assert str(back) == str(e.value) and back.problems == e.value.problems


def _validate(*args):
  return subprocess.run([sys.executable, '-m', 'data_prep.pjf_validate', *args],
                        capture_output=True, text=True, cwd=REPO, timeout=120)


def test_validate_command_lists_problems_or_writes_the_manifest(tmp_path):
  d = _corpus_dir(tmp_path, *_with_bad(CASES[10]))
  failed = _validate(f'--corpus_dir={d}')
  assert failed.returncode == 1
  assert "pairs.jsonl: line 5 (c9/j1): unknown candidate_id 'c9'" in failed.stderr
  assert 'Pairs: 5 read, 4 kept' in failed.stdout
  out = tmp_path / 'out'
  skipped = _validate(f'--corpus_dir={d}', '--on_error=skip', f'--output_dir={out}')
  assert skipped.returncode == 0, skipped.stderr
  assert '1 problem(s)' in skipped.stdout
  rows = list(csv.DictReader(open(out / pjf_corpus.MANIFEST, encoding='utf-8')))
  assert [(r['file'], r['line'], r['candidate_id']) for r in rows] == [
      ('pairs.jsonl', '5', 'c9')]
  clean = _validate(f'--corpus_dir={_corpus_dir(tmp_path / "clean")}')
  assert clean.returncode == 0 and 'Corpus OK.' in clean.stdout
