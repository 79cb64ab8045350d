"""Group attributes in both corpus formats and the planted bias of both generators:
validated like any field, carried beside the data and never into the features, planted
with the ground truth the generators say, and off by default."""

from __future__ import annotations

import csv
import glob
import json
import os

import numpy as np
import pytest

from data_prep.hirenet import build
from data_prep.hirenet import corpus as corpus_lib
from data_prep.hirenet import synthetic
from data_prep.pjf import corpus as pjf_corpus
from data_prep.pjf import synthetic as pjf_synthetic
from hirenet_jax.core import counterfactual
from hirenet_jax.hirenet import input_pipeline

SMALL = dict(num_candidates=60, seed=3, modalities=('text',), words_per_answer=12,
             seconds_per_answer=3, workers=1)


def _rewrite(path, change):
  with open(path, encoding='utf-8') as f:
    records = [json.loads(line) for line in f if line.strip()]
  for i, r in enumerate(records):
    change(i, r)
  with open(path, 'w', encoding='utf-8') as f:
    f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in records)


def test_hirenet_bad_attributes_are_a_problem_of_their_line(tmp_path):
  corpus = synthetic.generate_corpus(str(tmp_path / 'c'), **dict(SMALL, num_candidates=4))
  bad = {1: {'gender': 3}, 2: 'f'}
  _rewrite(os.path.join(corpus, 'interviews.jsonl'),
           lambda i, r: r.update(attributes=bad.get(i, {'gender': 'm'})))
  interviews, problems = corpus_lib.read_corpus(corpus)
  assert [i.candidate_id for i in interviews] == ['c00000', 'c00003']
  assert interviews[0].attributes == {'gender': 'm'}
  assert [(p.file, p.record) for p in problems] == [
      ('interviews.jsonl', 'line 2 (c00001)'), ('interviews.jsonl', 'line 3 (c00002)')]
  assert 'non-empty string' in problems[0].reason and 'object' in problems[1].reason


def test_pjf_bad_attributes_are_a_problem_of_their_line(tmp_path):
  out = pjf_synthetic.write(str(tmp_path / 'p'), seed=1, num_candidates=20, num_jobs=10,
                            pairs_per_candidate=4)
  _rewrite(os.path.join(out, 'resumes.jsonl'),
           lambda i, r: r.update(attributes={'gender': ['f']} if i == 2 else {'g': 'x'}))
  corpus, problems = pjf_corpus.read_corpus(out, on_error='skip')
  resume_problems = [p for p in problems if p.file == 'resumes.jsonl']
  assert len(resume_problems) == 1 and resume_problems[0].line == 3
  assert 'non-empty string' in resume_problems[0].reason
  assert corpus.resumes['c0000'].attributes == {'g': 'x'}
  again, _ = pjf_corpus.read_corpus(pjf_corpus.write_corpus(corpus, str(tmp_path / 'w')))
  assert again.resumes['c0000'].attributes == {'g': 'x'}


def _shards(data_dir):
  out = {}
  for path in sorted(glob.glob(os.path.join(data_dir, '**', '*array_record*'),
                               recursive=True)):
    with open(path, 'rb') as f:
      out[os.path.basename(path)] = f.read()
  return out


def test_attributes_never_reach_the_features(tmp_path):
  """The same corpus with other attributes gives the same records, vocabulary and
  embeddings: nothing a model reads depends on them."""
  corpus = synthetic.generate_corpus(str(tmp_path / 'a'), **SMALL,
                                     bias=synthetic.Bias(label_bias=0.0))
  other = str(tmp_path / 'b')
  os.makedirs(other)
  with open(os.path.join(corpus, 'interviews.jsonl'), encoding='utf-8') as f:
    text = f.read()
  with open(os.path.join(other, 'interviews.jsonl'), 'w', encoding='utf-8') as f:
    f.write(text.replace('"gender": "f"', '"gender": "x"').replace('"gender": "m"',
                                                                 '"gender": "f"'))
  metas = [build.build_dataset(c, 'text', str(tmp_path / f'd{k}'), workers=1)
           for k, c in enumerate((corpus, other))]
  shards = [_shards(str(tmp_path / f'd{k}')) for k in range(2)]
  assert shards[0] and shards[0] == shards[1]
  for name in ('vocab.txt', 'embeddings.npy'):
    a, b = (open(os.path.join(input_pipeline.assets_dir(str(tmp_path / f'd{k}'), 'text'),
                              name), 'rb').read() for k in range(2))
    assert a == b
  del metas
  infos = [input_pipeline.record_info(str(tmp_path / f'd{k}'), 'text', 'test')
           for k in range(2)]
  assert infos[0]['candidate_id'] == infos[1]['candidate_id']
  genders = [[a['gender'] for a in info['attributes']] for info in infos]
  assert genders[0] != genders[1] and 'x' in genders[1]


def test_scored_rows_carry_attributes_that_do_not_move_the_scores(tmp_path):
  """A trained run's predictions.csv, scoring.score_dataset's rows and experiments.predict
  carry each candidate's attributes; changing them changes those columns, not a score."""
  from experiments import common  # pylint: disable=g-import-not-at-top
  from helpers import run_cli, tiny_config  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import train_lib  # pylint: disable=g-import-not-at-top
  corpus = synthetic.generate_corpus(str(tmp_path / 'c'), **SMALL,
                                     bias=synthetic.Bias(gender_proxy=True))
  data_dir = str(tmp_path / 'd')
  build.build_dataset(corpus, 'text', data_dir, workers=1)
  run = str(tmp_path / 'run')
  train_lib.train_and_evaluate(tiny_config(data_dir, num_epochs=1), run)
  with open(os.path.join(corpus, 'interviews.jsonl'), encoding='utf-8') as f:
    gender = {r['candidate_id']: r['attributes']['gender'] for r in map(json.loads, f)}
  with open(os.path.join(run, 'predictions.csv'), encoding='utf-8') as f:
    written = list(csv.DictReader(f))
  assert written and all(r['attr_gender'] == gender[r['candidate_id']] for r in written)
  _, _, rows = common.score_corpus(run, None, str(tmp_path / 'scratch'))
  assert len(rows) == len(gender)
  assert all(r['attr_gender'] == gender[r['candidate_id']] for r in rows)
  other = str(tmp_path / 'other')
  os.makedirs(other)
  flip = {'f': 'm', 'm': 'f'}
  with open(os.path.join(corpus, 'interviews.jsonl'), encoding='utf-8') as f:
    records = [json.loads(line) for line in f]
  with open(os.path.join(other, 'interviews.jsonl'), 'w', encoding='utf-8') as f:
    for r in records:
      r['attributes']['gender'] = flip[r['attributes']['gender']]
      f.write(json.dumps(r, ensure_ascii=False) + '\n')
  output = str(tmp_path / 'predicted.jsonl')
  run_cli('experiments.predict', f'--workdir={run}', f'--corpus_dir={other}',
          f'--output={output}')
  with open(output, encoding='utf-8') as f:
    predicted = {r['candidate_id']: r for r in map(json.loads, f)}
  assert set(predicted) == set(gender)
  for row in rows:
    assert predicted[row['candidate_id']]['attr_gender'] == flip[row['attr_gender']]
    assert predicted[row['candidate_id']]['score'] == pytest.approx(row['score'], abs=1e-6)
  # The audit of the run's selections on that corpus: every candidate, its groups.
  run_cli('experiments.audit', f'--workdir={run}', f'--score_corpus={other}',
          '--num_bootstrap=50', '--attributes=gender')
  with open(os.path.join(run, 'audit_on_other', 'audit.json'), encoding='utf-8') as f:
    report = json.load(f)['audits']['hirable']
  assert report['num_candidates'] == len(gender)
  assert {g: m['n'] for g, m in report['groupings']['gender']['groups'].items()} == {
      g: sum(flip[v] == g for v in gender.values()) for g in 'fm'}


def test_default_corpora_carry_no_attributes(tmp_path):
  corpus = synthetic.generate_corpus(str(tmp_path / 'c'), **SMALL)
  with open(os.path.join(corpus, 'interviews.jsonl'), encoding='utf-8') as f:
    assert '"attributes"' not in f.read()
  with open(os.path.join(corpus, 'corpus_info.json'), encoding='utf-8') as f:
    assert 'bias' not in json.load(f)
  resumes, _ = pjf_synthetic.generate(seed=1, num_candidates=20, num_jobs=10,
                                      pairs_per_candidate=4)
  assert not any(r.attributes for r in resumes.resumes.values())


def test_bias_changes_nothing_but_labels_attributes_and_proxies(tmp_path):
  plain = synthetic.plan_corpus(num_candidates=200, seed=2, words_per_answer=20)
  biased = synthetic.plan_corpus(num_candidates=200, seed=2, words_per_answer=20,
                                 bias=synthetic.Bias(label_bias=1.0))
  for p, b in zip(plain, biased):
    assert [a.transcript for a in p.answers] == [a.transcript for a in b.answers]
    assert b.label_before_bias == p.label
    assert b.label == (0 if b.attributes['gender'] == 'f' else p.label)


def test_planted_label_bias_gives_the_planted_impact_ratio(tmp_path):
  out = synthetic.generate_corpus(
      str(tmp_path / 'c'), **dict(SMALL, num_candidates=2000, words_per_answer=8),
      bias=synthetic.Bias(label_bias=0.4))
  with open(os.path.join(out, 'corpus_info.json'), encoding='utf-8') as f:
    truth = json.load(f)['bias']
  assert truth['expected_impact_ratio'] == pytest.approx(0.6)
  assert truth['groups']['f']['impact_ratio'] == pytest.approx(0.6, abs=0.06)
  before = truth['groups']['f']['hirable_rate_before_bias']
  assert before == pytest.approx(truth['groups']['m']['hirable_rate_before_bias'], abs=0.06)
  corpus, truth = pjf_synthetic.generate(seed=1, num_candidates=300, num_jobs=60,
                                         bias={'label_bias': 0.4})
  assert truth['bias']['groups']['f']['impact_ratio'] == pytest.approx(0.6, abs=0.08)
  assert truth['bias']['before_bias']['f']['impact_ratio'] > 0.85


def test_gender_proxy_marks_each_group_and_only_it():
  plans = synthetic.plan_corpus(num_candidates=100, seed=4, words_per_answer=20,
                                bias=synthetic.Bias(gender_proxy=True))
  for plan in plans:
    text = ' '.join(a.transcript for a in plan.answers)
    swapped_to_own = counterfactual.french_gender(text, plan.attributes['gender'])
    assert swapped_to_own == text  # Every gendered form is in the candidate's gender.
  female = ' '.join(a.transcript for p in plans if p.attributes['gender'] == 'f'
                    for a in p.answers)
  assert 'motivée' in female or 'prête' in female or 'certaine' in female
  corpus, _ = pjf_synthetic.generate(seed=1, num_candidates=40, num_jobs=10,
                                     pairs_per_candidate=4, bias={'gender_proxy': True})
  for resume in corpus.resumes.values():
    first = resume.text.split()[0]
    names = (counterfactual.FEMALE_NAMES if resume.attributes['gender'] == 'f'
             else counterfactual.MALE_NAMES)
    assert first in names


def test_gendered_transcripts_name_their_candidate_in_their_gender():
  # Every name the filler can draw has a pair, so no name escapes the swap.
  assert set(synthetic._SLOTS['prenom']) == {n for pair in counterfactual.FRENCH_NAMES
                                             for n in pair}
  names = {g: set(counterfactual.FRENCH_NAMES[i][k] for i in range(6))
           for k, g in enumerate('mf')}
  plans = synthetic.plan_corpus(num_candidates=150, seed=4,
                                bias=synthetic.Bias(gender_proxy=True))
  said = {'f': set(), 'm': set()}
  for plan in plans:
    for answer in plan.answers:
      words = answer.transcript.split()
      said[plan.attributes['gender']].update(
          words[i + 1] for i, w in enumerate(words[:-1]) if w == "m'appelle")
  assert said['f'] and said['f'] <= names['f']
  assert said['m'] and said['m'] <= names['m']
  # Attributes alone leave the transcripts as they were (names of both genders for all).
  plain = synthetic.plan_corpus(num_candidates=150, seed=4, bias=synthetic.Bias())
  default = synthetic.plan_corpus(num_candidates=150, seed=4)
  assert [a.transcript for p in plain for a in p.answers] == [
      a.transcript for p in default for a in p.answers]


def test_bias_draws_keep_other_text_unchanged():
  plain, _ = pjf_synthetic.generate(seed=1, num_candidates=30, num_jobs=10,
                                    pairs_per_candidate=4)
  biased, _ = pjf_synthetic.generate(seed=1, num_candidates=30, num_jobs=10,
                                     pairs_per_candidate=4, bias={'gender_proxy': True})
  for cid, resume in plain.resumes.items():
    other = biased.resumes[cid].text
    assert resume.text.split('\n', 1)[1] == other.split('\n', 1)[1]
  assert [p.candidate_accepts for p in plain.pairs] == [
      p.candidate_accepts for p in biased.pairs]
  assert np.mean([p.job_accepts for p in plain.pairs]) == np.mean(
      [p.job_accepts for p in biased.pairs])
