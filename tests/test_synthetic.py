"""Tests for data_prep.hirenet.synthetic: determinism, labels and the planted cue."""

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from data_prep.hirenet import synthetic

_SMALL = dict(num_candidates=6, seed=7, words_per_answer=30.0, seconds_per_answer=2.5)


def _read_jsonl(path):
  with open(path, encoding='utf-8') as f:
    return [json.loads(line) for line in f]


def _corpus_bytes(root):
  out = {}
  for dirpath, _, files in os.walk(root):
    for name in files:
      path = os.path.join(dirpath, name)
      with open(path, 'rb') as f:
        out[os.path.relpath(path, root)] = f.read()
  return out


@pytest.fixture(scope='module')
def clean_corpus(tmp_path_factory):
  """Text-only corpus with a noiseless cue: every key answer follows the label."""
  out = str(tmp_path_factory.mktemp('clean'))
  synthetic.generate_corpus(out, num_candidates=300, seed=1, modalities=('text',),
                            words_per_answer=40.0, cue_strength=1.0, label_noise=0.0)
  return (_read_jsonl(os.path.join(out, 'interviews.jsonl')),
          _read_jsonl(os.path.join(out, 'ground_truth.jsonl')))


@pytest.fixture(scope='module')
def large_plan():
  return synthetic.plan_corpus(num_candidates=2000, seed=0)


def test_same_seed_gives_same_bytes(tmp_path):
  a = synthetic.generate_corpus(str(tmp_path / 'a'), **_SMALL, workers=1)
  b = synthetic.generate_corpus(str(tmp_path / 'b'), **_SMALL, workers=1)
  bytes_a, bytes_b = _corpus_bytes(a), _corpus_bytes(b)
  assert any(k.endswith('.wav') for k in bytes_a) and any(k.endswith('.csv') for k in bytes_a)
  assert bytes_a == bytes_b
  c = synthetic.generate_corpus(str(tmp_path / 'c'), **dict(_SMALL, seed=8), workers=1)
  assert _corpus_bytes(c)['interviews.jsonl'] != bytes_a['interviews.jsonl']


def test_adding_modalities_later_gives_the_same_corpus(tmp_path):
  whole = synthetic.generate_corpus(str(tmp_path / 'whole'), **_SMALL, workers=1)
  parts = str(tmp_path / 'parts')
  synthetic.generate_corpus(parts, **_SMALL, modalities=('text',), workers=1)
  text_only = _read_jsonl(os.path.join(parts, 'interviews.jsonl'))
  assert all(a['audio'] is None and a['video'] is None for r in text_only for a in r['answers'])
  synthetic.generate_corpus(parts, **_SMALL, modalities=('video',), workers=1)
  synthetic.generate_corpus(parts, **_SMALL, modalities=('audio',), workers=1)
  assert _corpus_bytes(parts) == _corpus_bytes(whole)


def test_media_paths_exist_and_missing_rates_apply(tmp_path):
  out = synthetic.generate_corpus(str(tmp_path), **_SMALL, modalities=('audio', 'video'),
                                  missing_audio_rate=0.3, missing_video_rate=0.3, workers=1)
  answers = [a for r in _read_jsonl(os.path.join(out, 'interviews.jsonl')) for a in r['answers']]
  for key in ('audio', 'video'):
    paths = [a[key] for a in answers]
    assert None in paths and any(paths)
    assert all(os.path.exists(os.path.join(out, p)) for p in paths if p)
  assert len(os.listdir(os.path.join(out, 'audio'))) == sum(a['audio'] is not None
                                                            for a in answers)


def test_about_45_percent_hirable_at_scale(large_plan):
  plans = large_plan
  assert 0.40 < np.mean([p.label for p in plans]) < 0.50
  assert 4.9 < np.mean([len(p.answers) for p in plans]) < 5.2


def test_labels_follow_the_decision_rule(clean_corpus):
  records, _ = clean_corpus
  for r in records:
    hirable_votes = sum(d in ('like', 'shortlist') for d in r['decisions'])
    assert r['label'] == int(hirable_votes >= len(r['decisions']) - hirable_votes)
    assert set(r['decisions']) <= {'like', 'dislike', 'shortlist'}
  assert {len(r['decisions']) for r in records} == {1, 2, 3}


def test_position_prior_is_weak_but_real(large_plan):
  plans = large_plan
  by_position = collections.defaultdict(list)
  for p in plans:
    by_position[p.position_id].append(p.label)
  majority = {k: int(np.mean(v) >= 0.5) for k, v in by_position.items()}
  accuracy = np.mean([majority[p.position_id] == p.label for p in plans])
  assert 0.56 < accuracy < 0.75


def test_key_answers_carry_both_events_in_label_dependent_order(clean_corpus):
  records, truth = clean_corpus
  orders = collections.defaultdict(collections.Counter)
  for r, t in zip(records, truth):
    assert t['candidate_id'] == r['candidate_id'] and t['key_answers']
    for i in t['key_answers']:
      answer = t['answers'][i]
      events = [s['event'] for s in answer['text'] if s['event'] in 'XY']
      assert sorted(events) == ['X', 'Y']  # the same bag of events in every key answer.
      assert ''.join(events) == answer['order']
      assert answer['good'] == bool(r['label'])
      orders[(t['family'], r['label'])][answer['order']] += 1
    assert t['good_order'] == synthetic.GOOD_ORDER
  for family in synthetic.FAMILIES:
    assert set(orders[(family, 1)]) == {synthetic.GOOD_ORDER}
    assert set(orders[(family, 0)]) == {synthetic.GOOD_ORDER[::-1]}


def test_only_the_job_title_reveals_the_family(large_plan):
  """H4 global: the key questions depend on the family, and nothing but the job title
  tells the family (questions come from shared banks; answers talk about the candidate's
  own background, drawn independently of the position)."""
  questions = collections.defaultdict(set)
  background = collections.defaultdict(collections.Counter)
  for p in large_plan:
    background[p.family][p.background] += 1
    for a in p.answers:
      questions[(a.question_type, p.family)].add(a.question)
      assert not set(p.job_title.lower().split()) & set(a.question.lower().split()) - {
          'de', 'en', 'à', 'du', 'la', 'le', 'les', 'des'}, (p.job_title, a.question)
  for qtype in synthetic.QUESTION_TYPES:
    banks = [questions[(qtype, f)] for f in synthetic.FAMILIES]
    assert all(bank == banks[0] for bank in banks), qtype
  for family, counts in background.items():
    shares = np.array([counts[f] for f in synthetic.FAMILIES]) / sum(counts.values())
    assert np.abs(shares - 1 / len(synthetic.FAMILIES)).max() < 0.06, (family, counts)


def test_non_key_answers_have_uninformative_orders(clean_corpus):
  records, truth = clean_corpus
  counts = collections.Counter()
  for r, t in zip(records, truth):
    for answer in t['answers']:
      if not answer['key'] and answer['order'] in ('XY', 'YX'):
        counts[(r['label'], answer['order'])] += 1
  for label in (0, 1):
    share = counts[(label, 'XY')] / (counts[(label, 'XY')] + counts[(label, 'YX')])
    assert 0.35 < share < 0.65


def test_ground_truth_spans_point_at_the_events(clean_corpus):
  records, truth = clean_corpus
  phrases = {e: set(p) for e, p in synthetic._EVENT_PHRASES.items()}
  for r, t in zip(records, truth):
    for answer, gt in zip(r['answers'], t['answers']):
      words = answer['transcript'].split()
      for span in gt['text']:
        s, e = span['words']
        text = ' '.join(words[s:e])
        assert text.lower() in phrases[span['event']]
        assert answer['transcript'][slice(*span['chars'])] == text
      times = [s['seconds'] for s in gt['audio'] or []]
      assert all(0 <= a < b <= gt['seconds'] for a, b in times)


def test_ensure_default_corpus_builds_once(tmp_path):
  cache = str(tmp_path / 'default')
  path = synthetic.ensure_default_corpus(('text',), cache_dir=cache)
  assert path == cache
  interviews = os.path.join(path, 'interviews.jsonl')
  stamp = os.stat(interviews).st_mtime_ns
  assert synthetic.ensure_default_corpus(('text',), cache_dir=cache) == cache
  assert os.stat(interviews).st_mtime_ns == stamp
  assert len(_read_jsonl(interviews)) == synthetic.DEFAULT_CORPUS['num_candidates']


def test_cli_writes_a_corpus(tmp_path):
  out = str(tmp_path / 'cli')
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  subprocess.run([sys.executable, '-m', 'data_prep.synthetic', f'--out_dir={out}',
                  '--num_candidates=5', '--seed=3', '--modalities=text,video',
                  '--words_per_answer=30', '--seconds_per_answer=3', '--fps=30'],
                 check=True, cwd=root, capture_output=True)
  records = _read_jsonl(os.path.join(out, 'interviews.jsonl'))
  assert len(records) == 5
  assert all(a['audio'] is None for r in records for a in r['answers'])
  with open(os.path.join(out, 'corpus_info.json')) as f:
    assert json.load(f)['params']['fps'] == 30.0
