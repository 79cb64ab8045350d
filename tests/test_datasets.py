"""Tests for data_prep.hirenet.datasets: the training runs' audio frame pooling and cache keys."""

import json
import os

import ml_collections
import numpy as np
import pytest

from data_prep.hirenet import audio
from data_prep.hirenet import datasets
from hirenet_jax.hirenet.baselines import paper as baseline_features
from hirenet_jax.hirenet import input_pipeline


@pytest.fixture(scope='module')
def corpus_dir(tmp_path_factory):
  """20 candidates, 2 answers each, audio as precomputed [T, 25] LLDs (.npy)."""
  root = tmp_path_factory.mktemp('corpus')
  os.makedirs(root / 'audio')
  rng = np.random.default_rng(0)
  with open(root / 'interviews.jsonl', 'w', encoding='utf-8') as f:
    for i in range(20):
      answers = []
      for q in range(2):
        path = f'audio/c{i:02d}_{q}.npy'
        np.save(root / path, rng.standard_normal((int(rng.integers(5, 60)), 25)).astype(
            np.float32))
        answers.append({'question': 'Parlez-moi de vous ?', 'transcript': 'je vends',
                        'audio': path})
      f.write(json.dumps({'candidate_id': f'c{i:02d}', 'position_id': f'p{i % 3}',
                          'job_title': 'Vendeur', 'label': i % 2, 'answers': answers}) + '\n')
  return str(root)


def _config(corpus_dir, modality='audio', **extra):
  config = ml_collections.ConfigDict(dict(modality=modality, corpus_dir=corpus_dir,
                                          data_dir='', split='by_candidate', **extra))
  config.lock()
  return config


def _frames_by_answer(data_dir):
  """{(candidate_id, answer_index): de-normalised frames} over every split."""
  mean, std = baseline_features.feature_stats(data_dir, 'audio')
  out = {}
  for split in ('train', 'validation', 'test'):
    answers = baseline_features.load_split_answers(data_dir, 'audio', split)
    for seq, row, index in zip(answers.sequences, answers.candidate, answers.answer_index):
      out[(answers.candidate_ids[row], int(index))] = np.asarray(seq) * std + mean
  return out


@pytest.mark.parametrize('extra,expected', [({}, datasets.AUDIO_FRAME_POOLING),
                                            ({'frame_pooling': 1}, 1),
                                            ({'frame_pooling': 4}, 4)])
def test_audio_runs_train_on_pooled_frames(corpus_dir, tmp_path, extra, expected):
  data_dir = datasets.prepare(_config(corpus_dir, **extra), str(tmp_path))
  meta = input_pipeline.load_meta(data_dir, 'audio')
  assert meta['frame_rate'] == audio.FRAME_RATE / expected
  frames = _frames_by_answer(data_dir)
  assert len(frames) == 40
  for (candidate_id, index), got in frames.items():
    raw = np.load(os.path.join(corpus_dir, 'audio', f'{candidate_id}_{index}.npy'))
    np.testing.assert_allclose(got, audio.pool_frames(raw, expected), rtol=1e-4, atol=1e-4)


def test_each_pooling_has_its_own_cached_dataset(corpus_dir, tmp_path):
  pooled = datasets.prepare(_config(corpus_dir), str(tmp_path))
  meta_path = os.path.join(input_pipeline.assets_dir(pooled, 'audio'), 'meta.json')
  stamp = os.stat(meta_path).st_mtime_ns
  raw = datasets.prepare(_config(corpus_dir, frame_pooling=1), str(tmp_path))
  assert pooled != raw
  assert datasets.prepare(_config(corpus_dir), str(tmp_path)) == pooled
  assert os.stat(meta_path).st_mtime_ns == stamp  # Kept, not rebuilt by the raw run.
  assert input_pipeline.load_meta(pooled, 'audio')['frame_rate'] == (
      audio.FRAME_RATE / datasets.AUDIO_FRAME_POOLING)


def test_frame_pooling_is_for_audio_only_and_positive(corpus_dir):
  assert datasets.frame_pooling(_config(corpus_dir, 'text')) is None
  assert datasets.frame_pooling(_config(corpus_dir, 'video', frame_pooling=3)) is None
  with pytest.raises(datasets.PrepareError, match='frame_pooling'):
    datasets.frame_pooling(_config(corpus_dir, frame_pooling=-2))
