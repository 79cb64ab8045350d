"""data_prep.pjf.synthetic: same seed same bytes, labels that follow the ground truth up
to the noise rate, levels shown by phrasing, and the design claim: whole-document word
overlap ranks weakly while reading each requirement's level ranks strongly."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from data_prep.pjf import corpus as pjf_corpus
from data_prep.pjf import synthetic as syn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(num_candidates=40, num_jobs=40, pairs_per_candidate=6)
FILES = ('jobs.jsonl', 'resumes.jsonl', 'pairs.jsonl', 'ground_truth.json')


@pytest.fixture(scope='module')
def medium():
  """Large enough for stable rates and AUCs, small enough for a second on 2 cores."""
  return syn.generate(seed=3, num_candidates=300, num_jobs=100, pairs_per_candidate=10)


def _bytes(d):
  return {name: open(os.path.join(d, name), 'rb').read() for name in FILES}


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path):
  a = _bytes(syn.write(str(tmp_path / 'a'), seed=5, **SMALL))
  b = _bytes(syn.write(str(tmp_path / 'b'), seed=5, **SMALL))
  c = _bytes(syn.write(str(tmp_path / 'c'), seed=6, **SMALL))
  assert a == b
  assert all(a[name] != c[name] for name in FILES)


def test_written_corpus_reads_back_clean_and_equal(tmp_path):
  corpus, truth = syn.generate(seed=1, **SMALL)
  d = syn.write(str(tmp_path / 'c'), seed=1, **SMALL)
  back, problems = pjf_corpus.read_corpus(d)
  assert problems == []
  assert back.jobs == corpus.jobs and back.resumes == corpus.resumes
  assert back.pairs == corpus.pairs
  assert pjf_corpus.read_ground_truth(d) == json.loads(json.dumps(truth))
  # Splits are written out: they do not depend on the reader's seed.
  assert pjf_corpus.read_corpus(d, seed=9)[0].pairs == corpus.pairs


def test_ground_truth_describes_every_record(medium):
  corpus, truth = medium
  assert truth['version'] == syn.GENERATOR_VERSION and truth['params']['seed'] == 3
  assert set(truth['candidates']) == set(corpus.resumes)
  assert set(truth['jobs']) == set(corpus.jobs)
  assert [(t['candidate_id'], t['job_id']) for t in truth['pairs']] == [
      (p.candidate_id, p.job_id) for p in corpus.pairs]
  for job in truth['jobs'].values():
    assert 3 <= len(job['requirements']) <= 5
    assert set(job['requirements'].values()) <= {1, 2, 3}
  for cand in truth['candidates'].values():
    assert set(cand['preferences']) == {'sectors', 'cities', 'min_salary', 'contracts'}


def test_noiseless_labels_follow_requirements_and_preferences(medium):
  corpus, truth = medium
  for pair, t in zip(corpus.pairs, truth['pairs']):
    cand, job = truth['candidates'][pair.candidate_id], truth['jobs'][pair.job_id]
    met = all(cand['skills'].get(s, 0) >= l for s, l in job['requirements'].items())
    prefs = cand['preferences']
    pleased = (job['sector'] in prefs['sectors'] and job['city'] in prefs['cities']
               and job['salary'][1] >= prefs['min_salary']
               and job['contract'] in prefs['contracts'])
    assert t['job_accepts_noiseless'] == int(met)
    assert t['candidate_accepts_noiseless'] == int(pleased)
    assert (t['job_accepts'], t['candidate_accepts']) == (pair.job_accepts,
                                                          pair.candidate_accepts)


def test_labels_differ_from_ground_truth_at_the_noise_rate(medium):
  corpus, truth = medium
  noise = truth['params']['label_noise']
  for side in ('job_accepts', 'candidate_accepts'):
    flipped = np.mean([getattr(p, side) != t[f'{side}_noiseless']
                       for p, t in zip(corpus.pairs, truth['pairs'])])
    assert abs(flipped - noise) < 0.02, (side, flipped)
  clean, clean_truth = syn.generate(seed=3, label_noise=0.0, **SMALL)
  assert all(p.job_accepts == t['job_accepts_noiseless']
             and p.candidate_accepts == t['candidate_accepts_noiseless']
             for p, t in zip(clean.pairs, clean_truth['pairs']))


def test_label_rates_and_groups_are_balanced(medium):
  corpus, _ = medium
  b = syn.balance(corpus)
  assert 0.3 < b['job_accepts_rate'] < 0.55
  assert 0.25 < b['candidate_accepts_rate'] < 0.55
  assert b['match_rate'] > 0.07
  for key in ('jobs_with_both', 'candidates_with_both'):
    assert b[key] > 0.85, (key, b)
  assert len(corpus.pairs) == 300 * 10
  assert {p.split for p in corpus.pairs} == {'train', 'validation', 'test'}


def test_default_warm_split_trains_on_every_evaluated_candidate(medium):
  corpus, truth = medium
  assert truth['params']['split_mode'] == 'warm'
  trained = {p.candidate_id for p in corpus.split('train')}
  for split, share in (('validation', 0.2), ('test', 0.4)):
    groups = {}
    for p in corpus.split(split):
      groups.setdefault(p.candidate_id, []).append(p)
    assert set(groups) <= trained
    assert len(groups) == round(share * 300)
    assert all(len(g) == 5 for g in groups.values())  # Half of each one's 10 jobs.
  test_jobs = {}
  for p in corpus.split('test'):
    test_jobs.setdefault(p.job_id, []).append(p)
  assert np.mean([len(g) for g in test_jobs.values()]) > 4  # Test candidates per job.


def test_candidate_split_mode_changes_only_the_splits(medium):
  corpus, _ = medium
  by_candidate, truth = syn.generate(seed=3, num_candidates=300, num_jobs=100,
                                     pairs_per_candidate=10, split_mode='candidate')
  assert truth['params']['split_mode'] == 'candidate'
  assert by_candidate.jobs == corpus.jobs and by_candidate.resumes == corpus.resumes
  assert [dataclasses.replace(p, split='') for p in by_candidate.pairs] == [
      dataclasses.replace(p, split='') for p in corpus.pairs]
  for pairs in by_candidate.by_candidate().values():
    assert len({p.split for p in pairs}) == 1
  assert [p.split for p in by_candidate.pairs] != [p.split for p in corpus.pairs]
  with pytest.raises(ValueError, match='split_mode'):
    syn.generate(seed=3, split_mode='job', **SMALL)


def _template_regex(template: str, skill: str) -> str:
  parts = re.split(r'(\{skill\}|\{system\}|\{years\})', template)
  subs = {'{skill}': re.escape(skill), '{system}': r'[\w\- ]+?', '{years}': r'\w+ years?'}
  return ''.join(subs.get(p, re.escape(p)) for p in parts)


def test_each_held_skill_is_described_at_its_level(medium):
  corpus, truth = medium
  for cid in list(corpus.resumes)[:60]:
    text = corpus.resumes[cid].text
    for skill, level in truth['candidates'][cid]['skills'].items():
      found = {l for l, bank in syn._RESUME_LEVEL.items()
               if any(re.search(_template_regex(t, skill), text) for t in bank)}
      if level:
        assert found == {level}, (cid, skill, level, found)
      else:
        assert found <= {0}, (cid, skill, found)


def test_overlap_ranks_weakly_and_reading_requirements_strongly(medium):
  corpus, truth = medium
  aucs = syn.evidence_check(corpus, truth)
  assert aucs['job_overlap_auc'] < 0.62, aucs
  assert aucs['job_rule_auc'] > 0.85, aucs
  assert aucs['job_rule_group_auc'] - aucs['job_overlap_group_auc'] > 0.25, aucs
  assert aucs['candidate_rule_auc'] - aucs['candidate_overlap_auc'] > 0.25, aucs


def test_default_corpus_is_generated_once_into_the_cache(tmp_path, monkeypatch):
  monkeypatch.setattr(syn, 'DEFAULT_CORPUS', dict(seed=0, label_noise=0.07, **SMALL))
  path = syn.ensure_default_corpus(str(tmp_path))
  assert path == syn.default_corpus_dir(str(tmp_path))
  assert os.path.basename(path).startswith(f'pjf_default_v{syn.GENERATOR_VERSION}_')
  stamp = os.stat(os.path.join(path, 'pairs.jsonl')).st_mtime_ns
  assert syn.ensure_default_corpus(str(tmp_path)) == path
  assert os.stat(os.path.join(path, 'pairs.jsonl')).st_mtime_ns == stamp
  monkeypatch.setenv('HIRENET_CACHE', str(tmp_path / 'env'))
  assert syn.default_corpus_dir().startswith(str(tmp_path / 'env'))
  corpus, problems = pjf_corpus.read_corpus(path)
  assert problems == [] and len(corpus.resumes) == SMALL['num_candidates']


def test_command_writes_and_checks_a_corpus(tmp_path):
  out = tmp_path / 'c'
  run = subprocess.run(
      [sys.executable, '-m', 'data_prep.pjf_synthetic', f'--out_dir={out}', '--seed=2',
       '--num_candidates=40', '--num_jobs=40', '--pairs_per_candidate=6', '--check'],
      capture_output=True, text=True, cwd=REPO, timeout=120)
  assert run.returncode == 0, run.stderr
  assert 'Wrote 40 jobs, 40 resumes, 240 pairs' in run.stdout
  assert 'job_rule_auc:' in run.stdout and 'job_overlap_auc:' in run.stdout
  assert _bytes(out) == _bytes(syn.write(str(tmp_path / 'lib'), seed=2, **SMALL))


def test_command_split_flag_selects_the_by_candidate_split(tmp_path):
  out = tmp_path / 'c'
  run = subprocess.run(
      [sys.executable, '-m', 'data_prep.pjf_synthetic', f'--out_dir={out}', '--seed=2',
       '--num_candidates=40', '--num_jobs=40', '--pairs_per_candidate=6',
       '--split=candidate'],
      capture_output=True, text=True, cwd=REPO, timeout=120)
  assert run.returncode == 0, run.stderr
  expected = _bytes(syn.write(str(tmp_path / 'lib'), seed=2, split_mode='candidate',
                              **SMALL))
  assert _bytes(out) == expected
  assert expected != _bytes(syn.write(str(tmp_path / 'warm'), seed=2, **SMALL))
