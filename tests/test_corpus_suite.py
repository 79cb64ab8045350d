"""The robustness suite's corpora: each plants the rule it documents, deterministically,
in the raw format the rest of the project reads; and the suite table's bookkeeping."""

from __future__ import annotations

import csv
import dataclasses
import json
import os

import numpy as np
import pytest

from data_prep.hirenet import corpus
from data_prep.hirenet import corpus_suite
from hirenet_jax.hirenet import robustness


def _spec(name: str, **overrides) -> corpus_suite.SuiteCorpus:
  return dataclasses.replace(corpus_suite.SUITE[name], **{'num_candidates': 240, **overrides})


def _read(path):
  with open(path, encoding='utf-8') as f:
    return [json.loads(line) for line in f]


@pytest.mark.parametrize('name', ['b_weak_lexical', 'c_placement', 'd_small', 'e_imbalanced'])
def test_same_spec_same_bytes_and_readable(tmp_path, name):
  spec = _spec(name)
  a = corpus_suite.write_suite_corpus(str(tmp_path / 'a'), spec)
  b = corpus_suite.write_suite_corpus(str(tmp_path / 'b'), spec)
  for f in ('interviews.jsonl', 'ground_truth.jsonl', 'corpus_info.json'):
    assert (tmp_path / 'a' / f).read_bytes() == (tmp_path / 'b' / f).read_bytes(), f
  other = corpus_suite.write_suite_corpus(str(tmp_path / 'c'), _spec(name, seed=99))
  assert (tmp_path / 'c' / 'interviews.jsonl').read_bytes() != (
      tmp_path / 'a' / 'interviews.jsonl').read_bytes()
  interviews, problems = corpus.read_corpus(a)  # the project's raw-format reader.
  assert not problems and len(interviews) == spec.num_candidates
  del b, other


def test_placement_rule_is_where_not_whether(tmp_path):
  """With an exact cue, hirable <=> the family's key answer holds a result phrase, and
  every candidate says the same number of result phrases (a bag of words cannot tell)."""
  spec = _spec('c_placement', cue_strength=1.0, label_noise=0.0)
  out = corpus_suite.write_suite_corpus(str(tmp_path), spec)
  phrases = corpus_suite._EVENT_PHRASES[corpus_suite.RESULT_EVENT]
  labels = []
  for interview, truth in zip(_read(os.path.join(out, 'interviews.jsonl')),
                              _read(os.path.join(out, 'ground_truth.jsonl'))):
    counts = [sum(a['transcript'].lower().count(p.lower()) for p in phrases)
              for a in interview['answers']]
    key_type = corpus_suite.PLACEMENT_KEY_TYPES[truth['family']]
    key = [i for i, a in enumerate(truth['answers']) if a['question_type'] == key_type]
    assert sum(counts) == 2, interview['candidate_id']
    assert bool(counts[key[0]]) == bool(interview['label']), interview['candidate_id']
    labels.append(interview['label'])
  assert 0.2 < np.mean(labels) < 0.8


def test_lexical_markers_shift_with_the_label(tmp_path):
  spec = _spec('b_weak_lexical', num_candidates=600, label_noise=0.0, marker_shift=0.3)
  out = corpus_suite.write_suite_corpus(str(tmp_path), spec)
  _, positive, negative = corpus_suite.lexicon(spec.lexicon_size, spec.seed)
  positive, negative = set(positive), set(negative)
  balance = {0: [], 1: []}
  for interview in _read(os.path.join(out, 'interviews.jsonl')):
    words = ' '.join(a['transcript'] for a in interview['answers']).lower().split()
    balance[interview['label']].append(sum(w in positive for w in words) -
                                       sum(w in negative for w in words))
    assert len(interview['answers']) >= 3
  assert np.mean(balance[1]) > np.mean(balance[0]) + 1.0
  vocabulary = {w for i in _read(os.path.join(out, 'interviews.jsonl'))
                for a in i['answers'] for w in a['transcript'].lower().split()}
  assert len(vocabulary) > 1000  # the large lexicon shows up.


def test_imbalanced_and_small_corpora_have_their_sizes():
  plans = corpus_suite.plan_suite_corpus(corpus_suite.SUITE['e_imbalanced'])
  assert 0.10 < np.mean([p.label for p in plans]) < 0.20
  assert len(corpus_suite.plan_suite_corpus(corpus_suite.SUITE['d_small'])) == 400


def test_unknown_rule_and_corpus_are_refused():
  with pytest.raises(ValueError, match='unknown rule'):
    corpus_suite.plan_suite_corpus(_spec('d_small', rule='nope'))
  with pytest.raises(ValueError, match='unknown suite corpus'):
    corpus_suite.ensure_suite_corpus('z_missing')


def _fake_run(tmp_path, name, scores, threshold, auc):
  workdir = tmp_path / name
  workdir.mkdir()
  with open(workdir / 'predictions.csv', 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=['candidate_id', 'label', 'score', 'split'])
    writer.writeheader()
    for i, s in enumerate(scores):
      writer.writerow({'candidate_id': i, 'label': i % 2, 'score': s, 'split': 'test'})
    writer.writerow({'candidate_id': 'v', 'label': 0, 'score': 0.0, 'split': 'validation'})
  results = {'threshold': threshold, 'best_epoch': 3,
             'test': {'roc_auc': auc, 'f1': 0.5, 'precision': 0.5, 'recall': 0.5}}
  return str(workdir), results


def test_suite_table_counts_single_class_runs_and_gaps(tmp_path):
  runs = []
  for seed, (scores, auc) in enumerate([([0.6, 0.7, 0.8], 0.7), ([0.2, 0.7, 0.9], 0.9)]):
    workdir, results = _fake_run(tmp_path, f's{seed}', scores, 0.5, auc)
    runs.append(robustness.run_summary('x', 'hirenet', seed, workdir, results))
  assert [r['single_class'] for r in runs] == [True, False]
  baselines = {'x': {'tfidf_logreg': {'test': {'roc_auc': 0.6, 'f1': 0.4}},
                     'probe_logreg': {'test': {'roc_auc': 0.75, 'f1': 0.4}},
                     'majority_vote': {'test': {'roc_auc': 0.55, 'f1': 0.3}}}}
  rows = robustness.summarise(runs, baselines, ['x'], ['hirenet'])
  hirenet = rows[0]
  assert hirenet['single_class_runs'] == 1 and hirenet['num_runs'] == 2
  assert hirenet['roc_auc_mean'] == pytest.approx(0.8)
  assert hirenet['roc_auc_std'] == pytest.approx(np.std([0.7, 0.9], ddof=1))
  assert robustness.gap(rows, 'x') == pytest.approx(0.2)
  table = robustness.table_markdown(rows, {})
  assert '| x | HireNet | 0.800 ± 0.141 |' in table and '1 / 2' in table
  assert 'x +0.200' in table
  assert '| x | probe (mean vectors) + LR | 0.750 |' in table
  assert 'the probe of its representation, mean test ROC AUC: x +0.050' in table
