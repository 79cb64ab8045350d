"""Tests for hirenet_jax.input_pipeline: batch plan, padding, multi-host, resume."""

import json
import os

import numpy as np
import pytest

from data_prep import build
from hirenet_jax import input_pipeline as ip

NUM_CANDIDATES = 30


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  """text + audio datasets whose answer lengths span 1..120 (several buckets)."""
  root = tmp_path_factory.mktemp('corpus')
  os.makedirs(root / 'audio')
  rng = np.random.default_rng(0)
  with open(root / 'interviews.jsonl', 'w', encoding='utf-8') as f:
    for i in range(NUM_CANDIDATES):
      answers = []
      for q in range(int(rng.integers(1, 5))):
        n = int(rng.integers(1, 120))
        path = f'audio/c{i}_{q}.npy'
        np.save(root / path, rng.standard_normal((n, 25)).astype(np.float32))
        answers.append({'question': f'question {q} ' * int(rng.integers(1, 4)),
                        'transcript': ' '.join(f'w{k}' for k in rng.integers(0, 50, n)),
                        'audio': path})
      f.write(json.dumps({'candidate_id': f'c{i:02d}', 'position_id': 'p',
                          'job_title': 'vendeur', 'label': i % 2,
                          'answers': answers}) + '\n')
  out = str(tmp_path_factory.mktemp('data'))
  for modality in ('text', 'audio'):
    build.build_dataset(str(root), modality, out, num_shards=3, workers=1)
  return out


def _epoch(data_dir, split='train', **kwargs):
  kwargs = dict(batch_size=4, seed=0, epoch=0, shuffle=True) | kwargs
  return list(ip.make_batches(data_dir, 'text', split, **kwargs))


def test_bucket_boundaries_are_rounded_training_quantiles_ending_at_max():
  lengths = list(range(1, 101))
  assert ip.bucket_boundaries(lengths, 130, num_buckets=4, multiple=8) == (32, 56, 80, 136)
  assert ip.bucket_boundaries([5] * 10, 5, num_buckets=4, multiple=8) == (8,)
  assert ip.bucket_boundaries(lengths, 100, num_buckets=1, multiple=1) == (100,)


@pytest.mark.parametrize('split, shuffle', [('train', True), ('train', False),
                                            ('validation', False), ('test', False)])
def test_every_record_appears_exactly_once_per_epoch(data_dir, split, shuffle):
  batches = _epoch(data_dir, split, shuffle=shuffle)
  indices = np.concatenate([b['index'] for b in batches])
  real = indices[indices >= 0]
  assert sorted(real) == list(range(len(ip.candidate_ids(data_dir, 'text', split))))


def test_batches_use_a_few_fixed_shapes_and_each_record_fits_its_bucket(data_dir):
  b = ip.make_batches(data_dir, 'audio', 'train', batch_size=4, shuffle=True)
  assert 1 < len(b.boundaries) <= 4
  shapes = set()
  for batch in b:
    shapes.add(batch['answers'].shape)
    assert batch['answers'].dtype == np.float32
    assert batch['answer_lengths'].max() <= batch['answers'].shape[2]
    valid = batch['answer_lengths'].max(1)[batch['weight'] > 0]
    lower = max([t for t in b.boundaries if t < batch['answers'].shape[2]], default=0)
    assert (valid > lower).all()  # Smallest bucket that holds the record.
  assert shapes <= set(b.shapes)
  assert len(shapes) > 1


def test_padding_rows_have_zero_weight_index_and_values(data_dir):
  batches = _epoch(data_dir, 'validation', batch_size=8, shuffle=False)
  pad = np.concatenate([b['index'] for b in batches]) < 0
  assert pad.any()
  for b in batches:
    rows = b['index'] < 0
    assert not b['weight'][rows].any() and not b['answer_lengths'][rows].any()
    assert not b['answers'][rows].any() and not b['label'][rows].any()
    assert (b['weight'][~rows] == 1).all()
    assert set(b) == {'answers', 'answer_lengths', 'questions', 'question_lengths',
                      'job_title', 'job_title_length', 'label', 'weight', 'index'}
    for key in ('answers', 'answer_lengths', 'questions', 'label', 'index'):
      assert b[key].dtype == np.int32, key


def test_plan_is_deterministic_in_seed_and_epoch(data_dir):
  order = lambda **kw: [tuple(b['index']) for b in _epoch(data_dir, **kw)]
  assert order(seed=1, epoch=2) == order(seed=1, epoch=2)
  assert order(seed=1, epoch=2) != order(seed=1, epoch=3)
  assert order(seed=1, epoch=2) != order(seed=2, epoch=2)


def test_multi_host_slices_reassemble_the_single_host_batches(data_dir):
  single = _epoch(data_dir, seed=3, epoch=1)
  parts = [_epoch(data_dir, seed=3, epoch=1, process_index=p, process_count=2)
           for p in range(2)]
  assert len(parts[0]) == len(parts[1]) == len(single)
  for k, batch in enumerate(single):
    for key, value in batch.items():
      assert parts[0][k][key].shape[0] == 2
      np.testing.assert_array_equal(
          np.concatenate([parts[0][k][key], parts[1][k][key]]), value)


def test_start_step_resumes_with_the_remaining_batches(data_dir):
  full = _epoch(data_dir, seed=5, epoch=4)
  resumed = ip.make_batches(data_dir, 'text', 'train', batch_size=4, seed=5, epoch=4,
                            shuffle=True, start_step=3)
  assert len(resumed) == len(full) - 3
  for a, b in zip(full[3:], resumed):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])


def test_num_batches_and_padding_efficiency_match_the_batches(data_dir):
  batches = _epoch(data_dir, batch_size=4)
  assert ip.num_batches(data_dir, 'text', 'train', batch_size=4) == len(batches)
  valid = sum(b['answer_lengths'].sum() for b in batches)
  padded = sum(b['answers'].size for b in batches)
  efficiency = ip.padding_efficiency(data_dir, 'text', 'train', batch_size=4, shuffle=True)
  assert efficiency == pytest.approx(valid / padded)
  assert efficiency == pytest.approx(
      ip.make_batches(data_dir, 'text', 'train', batch_size=4).padding_efficiency)
  # Without batch-padding rows (batch_size=1), buckets can only cut padding.
  bucketed, one_bucket = (ip.padding_efficiency(data_dir, 'text', 'train', batch_size=1,
                                                num_buckets=n) for n in (4, 1))
  assert bucketed > one_bucket


def test_assets_are_loadable(data_dir):
  meta = ip.load_meta(data_dir, 'text')
  assert ip.load_embeddings(data_dir, 'text').shape == (meta['vocab_size'], 200)
  assert ip.load_vocab(data_dir, 'text')[:2] == ['<pad>', '<unk>']
  num = sum(len(ip.candidate_ids(data_dir, 'text', s)) for s in ip.SPLITS)
  assert num == NUM_CANDIDATES


def test_bad_arguments_are_rejected(data_dir):
  with pytest.raises(ValueError, match='multiple of process_count'):
    ip.make_batches(data_dir, 'text', 'train', batch_size=3, process_count=2)
  with pytest.raises(FileNotFoundError, match='data_prep.build'):
    ip.load_meta(data_dir, 'video')
