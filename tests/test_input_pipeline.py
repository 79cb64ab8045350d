"""Tests for hirenet_jax.hirenet.input_pipeline: batch plan, packing, multi-host, resume."""

import dataclasses
import json
import os

import numpy as np
import pytest

from hirenet_jax.hirenet import dataset_spec
from data_prep.hirenet import build
from hirenet_jax.hirenet import input_pipeline as ip
from hirenet_jax.hirenet import packing

NUM_CANDIDATES = 30


def make_batches(data_dir, modality, split, **kwargs):
  """ip.Batches with PackingOptions / LoaderOptions fields given as keywords."""
  options = {}
  for name, cls in (('pack', ip.PackingOptions), ('loader', ip.LoaderOptions)):
    fields = {f.name for f in dataclasses.fields(cls)}
    options[name] = cls(**{k: kwargs.pop(k) for k in list(kwargs) if k in fields})
  return ip.Batches(data_dir, modality, split, **options, **kwargs)


def dataset(data_dir, modality='text', seed=0):
  """The text dataset as training reads it (one process, packing defaults)."""
  return ip.PreparedDataset(data_dir, modality, seed=seed, num_buckets=4)


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
  return list(make_batches(data_dir, 'text', split, **kwargs))


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


def _records(data_dir, modality, split):
  import tensorflow_datasets as tfds
  source = tfds.builder_from_directory(
      dataset_spec.dataset_dir(data_dir, modality)).as_data_source(split=split)
  return source.__getitems__(list(range(len(source))))


def _check_answers(batch, records):
  """Every interview row's packed answers unpack to its record's answers."""
  answers = packing.unpack(batch['answers'], batch['answer_lengths'], batch['answer_rows'],
                           batch['answer_starts'])
  for row, i in enumerate(batch['index']):
    if i < 0:
      continue
    rec = records[i]
    lengths = np.asarray(rec['answer_lengths'])
    np.testing.assert_array_equal(batch['answer_lengths'][row, :len(lengths)], lengths)
    flat = np.concatenate([answers[row, k, :n] for k, n in enumerate(lengths)])
    np.testing.assert_array_equal(flat, np.asarray(rec['answers']))
    q = batch['answer_lengths'].shape[1]
    for k, n in enumerate(lengths):  # Each answer's steps carry its slot id.
      r, s = batch['answer_rows'][row, k], batch['answer_starts'][row, k]
      np.testing.assert_array_equal(batch['answer_segments'][r, s:s + n], row * q + k)
    question_lengths = np.asarray(rec['question_lengths'])
    np.testing.assert_array_equal(batch['question_lengths'][row, :len(question_lengths)],
                                  question_lengths)
    flat = np.concatenate([batch['questions'][row, k, :m]
                           for k, m in enumerate(question_lengths)])
    np.testing.assert_array_equal(flat, np.asarray(rec['questions']))
    assert batch['label'][row] == int(rec['label'])
    np.testing.assert_array_equal(batch['job_title'][row, :batch['job_title_length'][row]],
                                  np.asarray(rec['job_title']))
  # Every step outside an answer is padding.
  assert (batch['answer_segments'] >= 0).sum() == batch['answer_lengths'].sum()


def test_batches_use_a_few_fixed_shapes_and_each_record_fits_its_bucket(data_dir):
  b = make_batches(data_dir, 'audio', 'train', batch_size=4, shuffle=True,
                      width_factor=1.0)
  widths = b.layout.widths
  assert 1 < len(widths) <= 4
  records = _records(data_dir, 'audio', 'train')
  shapes = set()
  for batch in b:
    shapes.add(batch['answers'].shape)
    assert batch['answers'].dtype == np.float32
    width = batch['answers'].shape[1]
    valid = batch['answer_lengths'].max(1)[batch['weight'] > 0]
    assert (valid <= width).all()
    lower = max([w for w in widths if w < width], default=0)
    assert (valid > lower).all()  # Narrowest bucket that holds the record.
    _check_answers(batch, records)
    # Segment ids name each answer's slot b * Q + q, and only there.
    q = batch['answer_lengths'].shape[1]
    seg = batch['answer_segments']
    for row, k in zip(*np.nonzero(batch['answer_lengths'])):
      r, start = batch['answer_rows'][row, k], batch['answer_starts'][row, k]
      n = batch['answer_lengths'][row, k]
      assert (seg[r, start:start + n] == row * q + k).all()
    assert (seg >= 0).sum() == batch['answer_lengths'].sum()
  assert shapes <= set(b.shapes)
  assert len(shapes) > 1


def test_padding_rows_have_zero_weight_index_and_values(data_dir):
  batches = _epoch(data_dir, 'validation', batch_size=8, shuffle=False)
  pad = np.concatenate([b['index'] for b in batches]) < 0
  assert pad.any()
  for b in batches:
    rows = b['index'] < 0
    assert not b['weight'][rows].any() and not b['answer_lengths'][rows].any()
    assert not b['label'][rows].any()
    assert not b['answers'][b['answer_segments'] < 0].any()
    assert (b['weight'][~rows] == 1).all()
    assert set(b) == {'answers', 'answer_segments', 'answer_rows', 'answer_starts',
                      'answer_lengths', 'questions', 'question_lengths', 'job_title',
                      'job_title_length', 'label', 'weight', 'index'}
    for key in ('answers', 'answer_segments', 'answer_rows', 'answer_starts',
                'answer_lengths', 'questions', 'label', 'index'):
      assert b[key].dtype == np.int32, key


def test_plan_is_deterministic_in_seed_and_epoch(data_dir):
  order = lambda **kw: [tuple(b['index']) for b in _epoch(data_dir, **kw)]
  assert order(seed=1, epoch=2) == order(seed=1, epoch=2)
  assert order(seed=1, epoch=2) != order(seed=1, epoch=3)
  assert order(seed=1, epoch=2) != order(seed=2, epoch=2)


def test_multi_host_parts_assemble_a_global_batch_packed_per_host(data_dir):
  parts = [_epoch(data_dir, seed=3, epoch=1, process_index=p, process_count=2)
           for p in range(2)]
  assert len(parts[0]) == len(parts[1])
  records = _records(data_dir, 'text', 'train')
  seen = []
  for first, second in zip(*parts):
    glob = {key: np.concatenate([first[key], second[key]]) for key in first}
    rows = first['answers'].shape[0]
    assert second['answers'].shape[0] == rows and first['index'].shape[0] == 2
    # Host p's rows only hold its own interviews' answer slots.
    q = first['answer_lengths'].shape[1]
    for p, part in enumerate((first, second)):
      seg = part['answer_segments'][part['answer_segments'] >= 0]
      assert ((seg // q) // 2 == p).all()
    _check_answers(glob, records)
    seen += [i for i in glob['index'] if i >= 0]
  assert sorted(seen) == list(range(len(records)))
  # One process packing two groups sees exactly what the two processes see together.
  single = _epoch(data_dir, seed=3, epoch=1, pack_groups=2)
  assert len(single) == len(parts[0])
  for k, batch in enumerate(single):
    for key, value in batch.items():
      np.testing.assert_array_equal(
          np.concatenate([parts[0][k][key], parts[1][k][key]]), value)


def test_start_step_resumes_with_the_remaining_batches(data_dir):
  full = _epoch(data_dir, seed=5, epoch=4)
  resumed = make_batches(data_dir, 'text', 'train', batch_size=4, seed=5, epoch=4,
                            shuffle=True, start_step=3)
  assert len(resumed) == len(full) - 3
  for a, b in zip(full[3:], resumed):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize('modality', ['text', 'audio'])
def test_loading_windows_hand_out_the_same_batches_in_the_same_order(data_dir, modality):
  kwargs = dict(batch_size=2, seed=2, epoch=1, shuffle=True, start_step=1)
  one_by_one = make_batches(data_dir, modality, 'train', load_window=1, **kwargs)
  assert one_by_one.window == 1
  reference = list(one_by_one)
  assert len(reference) > 4 and len(reference) % 4  # Several windows, a partial last.
  for load_window in (3, 4):
    batches = make_batches(data_dir, modality, 'train', load_window=load_window,
                              prefetch=5, **kwargs)
    assert batches.window == load_window
    for a, b in zip(reference, batches, strict=True):
      assert a.keys() == b.keys()
      for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_loading_windows_stay_within_their_memory_budget(data_dir):
  batches = make_batches(data_dir, 'audio', 'train', batch_size=4)
  batch_mb = max(np.prod(shape) for shape in batches.shapes) * 4 / 2**20
  assert batches.window == 8
  capped = make_batches(data_dir, 'audio', 'train', batch_size=4,
                           window_mb=2.5 * batch_mb)
  assert capped.window == 2
  assert make_batches(data_dir, 'audio', 'train', batch_size=4,
                         window_mb=batch_mb / 2).window == 1
  with pytest.raises(ValueError, match='load_window must be at least 1'):
    make_batches(data_dir, 'audio', 'train', batch_size=4, load_window=0)


def test_epoch_plans_are_reused_until_the_dataset_changes(data_dir):
  cache = ip.DatasetCache(data_dir, 'text')
  plan = lambda: cache.epoch_plan('train', batch_size=4, epoch=3, shuffle=True)[0]
  first = plan()
  first.clear()  # The caller's list, not the cache's.
  again = plan()
  assert again and plan()[0] is again[0]
  path = os.path.join(dataset_spec.assets_dir(data_dir, 'text'), 'meta.json')
  stat = os.stat(path)
  os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))  # As if rebuilt.
  rebuilt = plan()
  assert rebuilt[0] is not again[0]
  assert [b.indices.tolist() for b in rebuilt] == [b.indices.tolist() for b in again]


def test_num_batches_and_padding_efficiency_match_the_batches(data_dir):
  batches = _epoch(data_dir, batch_size=4)
  assert dataset(data_dir).num_batches('train', batch_size=4, shuffle=True) == len(batches)
  valid = sum(b['answer_lengths'].sum() for b in batches)
  padded = sum(b['answers'].size for b in batches)
  efficiency = dataset(data_dir).padding_efficiency('train', batch_size=4, shuffle=True)
  assert efficiency == pytest.approx(valid / padded)
  assert efficiency == pytest.approx(make_batches(
      data_dir, 'text', 'train', batch_size=4, shuffle=True).padding_efficiency)


def test_packing_beats_padding_each_interview_to_its_longest_answer(data_dir):
  lengths = ip.load_meta(data_dir, 'text')['lengths']['train']
  q = ip.load_meta(data_dir, 'text')['max_questions']
  padded = sum(sum(r) for r in lengths) / sum(q * max(r) for r in lengths)
  plan, _, _ = ip.DatasetCache(data_dir, 'text').epoch_plan(
      'train', batch_size=8, shuffle=True, options=ip.PackingOptions(row_multiple=1))
  packed = packing.padding_efficiency(plan, lengths)
  assert packed > padded + 0.1


def test_assets_are_loadable(data_dir):
  meta = ip.load_meta(data_dir, 'text')
  assert ip.load_embeddings(data_dir, 'text').shape == (meta['vocab_size'], 200)
  assert ip.load_vocab(data_dir, 'text')[:2] == ['<pad>', '<unk>']
  num = sum(len(ip.candidate_ids(data_dir, 'text', s)) for s in dataset_spec.SPLITS)
  assert num == NUM_CANDIDATES


def test_bad_arguments_are_rejected(data_dir):
  with pytest.raises(ValueError, match='multiple of process_count'):
    make_batches(data_dir, 'text', 'train', batch_size=3, process_count=2)
  with pytest.raises(ValueError, match='pack_groups 3 must be a multiple'):
    make_batches(data_dir, 'text', 'train', batch_size=4, process_count=2, pack_groups=3)
  with pytest.raises(FileNotFoundError, match='data_prep.build'):
    ip.load_meta(data_dir, 'video')


@pytest.mark.parametrize('modality', ['text', 'audio'])
def test_records_in_memory_or_read_per_batch_give_the_same_batches(data_dir, modality):
  kwargs = dict(batch_size=4, shuffle=True, epoch=1)
  cached = list(make_batches(data_dir, modality, 'train', **kwargs))
  uncached = make_batches(data_dir, modality, 'train', cache_mb=0, **kwargs)
  assert uncached._cache is None
  for a, b in zip(cached, uncached, strict=True):
    assert a.keys() == b.keys()
    for key in a:
      np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_record_table_refuses_a_record_that_contradicts_meta_json():
  layout = ip._fixed_layout(2, 2, 2)
  table = ip._RecordTable([[3, 0], [2]], 0, layout)
  np.testing.assert_array_equal(table.starts, [[0, 3], [3, 5]])
  assert table.padding == 5 and not table.answers[5]
  rec = {'answer_lengths': [2], 'question_lengths': [1], 'questions': [4],
         'job_title': [1], 'label': 0, 'answers': [7, 8]}
  table.fill([1], [rec], ['record 1'])
  np.testing.assert_array_equal(table.answers, [0, 0, 0, 7, 8, 0])
  assert table.filled.tolist() == [False, True]
  with pytest.raises(ValueError, match=r'record 0 has answer lengths \[2\].*\[3, 0\]'):
    table.fill([0], [rec], ['record 0'])
  features = ip._RecordTable([[2]], 3, layout)
  with pytest.raises(ValueError, match=r'record 7 has answer steps of shape \(2,\)'):
    features.fill([0], [rec | {'answers': np.zeros((2, 2), np.float32)}], ['record 7'])


@pytest.mark.parametrize('modality', ['text', 'audio'])
def test_batch_arrays_are_aligned_so_jax_takes_them_without_a_copy(data_dir, modality):
  import jax  # pylint: disable=g-import-not-at-top
  batch = next(iter(make_batches(data_dir, modality, 'train', batch_size=4)))
  for key, x in batch.items():
    assert x.ctypes.data % ip._ALIGNMENT == 0 and x.flags.c_contiguous, key
    assert jax.device_put(x).unsafe_buffer_pointer() == x.ctypes.data, key


def test_fixed_row_pads_small_fields_and_refuses_records_that_do_not_fit():
  rec = {'answer_lengths': [3, 0], 'question_lengths': [2, 1], 'questions': [7, 8, 9],
         'job_title': [4], 'label': 1}
  row = ip._fixed_row(rec, ip._fixed_layout(3, 2, 2), 2, name='record 0')
  np.testing.assert_array_equal(row, [3, 0, 0,  2, 1, 0,  4, 0,  1,  1,
                                      7, 8,  9, 0,  0, 0])
  with pytest.raises(ValueError, match='record 5 does not fit'):
    ip._fixed_row(rec, ip._fixed_layout(3, 1, 2), 1, name='record 5')  # Question too long.
  with pytest.raises(ValueError, match='record 5 does not fit'):
    ip._fixed_row(rec, ip._fixed_layout(1, 2, 2), 2, name='record 5')  # Too many answers.
