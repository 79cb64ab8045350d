"""Tests for data_prep.hirenet.build / validate / tfds_builder: round trip and bad input."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hirenet_jax.hirenet import dataset_spec
from data_prep.hirenet import audio
from data_prep.hirenet import build
from data_prep.hirenet import text
from data_prep.hirenet import validate
from data_prep.errors import CorpusError
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.hirenet import packing

WORDS = ('bonjour je suis vendeur depuis cinq ans et j\'aime le contact avec les '
         'clients de l\'entreprise banque conseil').split()


def openface_csv(path, num_frames, rng, *, fps=30.0):
  """A minimal OpenFace 2.x CSV with the columns data_prep.hirenet.video reads."""
  from data_prep.hirenet import video  # pylint: disable=g-import-not-at-top
  header = ['frame', 'face_id', 'timestamp', 'confidence', 'success'] + list(
      video.FEATURE_NAMES)
  with open(path, 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(header)
    for k in range(num_frames):
      w.writerow([k + 1, 0, f'{k / fps:.4f}', 0.98, 1] +
                 [f'{v:.4f}' for v in rng.standard_normal(len(video.FEATURE_NAMES))])


def make_corpus(root, num_candidates=20, *, seed=0, questions=3, video=False):
  """A tiny valid corpus: transcripts, .npy audio LLDs, optional OpenFace CSVs."""
  rng = np.random.default_rng(seed)
  os.makedirs(os.path.join(root, 'audio'), exist_ok=True)
  os.makedirs(os.path.join(root, 'openface'), exist_ok=True)
  records = []
  for i in range(num_candidates):
    cid = f'c{i:03d}'
    answers = []
    for q in range(questions):
      a = {'question': f'Question {q} : parlez-moi de vous ?',
           'transcript': ' '.join(rng.choice(WORDS, int(rng.integers(1, 15))))}
      npy = f'audio/{cid}_{q}.npy'
      np.save(os.path.join(root, npy),
              rng.standard_normal((int(rng.integers(1, 40)), 25)).astype(np.float32))
      a['audio'] = npy
      if video:
        a['video'] = f'openface/{cid}_{q}.csv'
        openface_csv(os.path.join(root, a['video']), int(rng.integers(10, 40)), rng)
      answers.append(a)
    records.append({'candidate_id': cid, 'position_id': f'pos{i % 4}',
                    'job_title': 'Conseiller clientèle banque', 'label': int(i % 3 == 0),
                    'answers': answers})
  write_jsonl(root, records)
  return str(root)


def write_jsonl(root, records):
  with open(os.path.join(root, 'interviews.jsonl'), 'w', encoding='utf-8') as f:
    for r in records:
      f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + '\n')


def read_jsonl(root):
  with open(os.path.join(root, 'interviews.jsonl'), encoding='utf-8') as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def corpus_dir(tmp_path_factory):
  return make_corpus(tmp_path_factory.mktemp('corpus'), video=_has_video())


def _has_video():
  try:
    from data_prep.hirenet import video  # pylint: disable=g-import-not-at-top,unused-import
    return True
  except ImportError:
    return False


@pytest.fixture(scope='module')
def built(tmp_path_factory, corpus_dir):
  """data_dir with the text and audio (and video if available) datasets."""
  data_dir = str(tmp_path_factory.mktemp('data'))
  summaries = {m: build.build_dataset(corpus_dir, m, data_dir, num_shards=2)
               for m in (('text', 'audio', 'video') if _has_video() else ('text', 'audio'))}
  return data_dir, summaries


def _all_batches(data_dir, modality, split):
  """The split's batches with the packed answers unpacked to [B, Q, T(, D)]."""
  batches = []
  for b in input_pipeline.Batches(data_dir, modality, split, batch_size=4):
    b['answers'] = packing.unpack(b['answers'], b['answer_lengths'], b['answer_rows'],
                                  b['answer_starts'])
    batches.append(b)
  return batches


def _raw_by_id(corpus_dir):
  return {r['candidate_id']: r for r in read_jsonl(corpus_dir)}


def _rows(batches):
  for b in batches:
    for row in np.nonzero(b['weight'])[0]:
      yield b, row


@pytest.mark.parametrize('modality', ['text', 'audio', 'video'])
def test_round_trip_corpus_to_batches_preserves_values_and_lengths(
    built, corpus_dir, modality):
  data_dir, summaries = built
  if modality not in summaries:
    pytest.skip('data_prep.hirenet.video is not available')
  raw = _raw_by_id(corpus_dir)
  meta = input_pipeline.load_meta(data_dir, modality)
  vocab = text.Vocabulary.load(os.path.join(dataset_spec.assets_dir(data_dir, modality),
                                            'vocab.txt'))
  if modality != 'text':
    stats = np.load(os.path.join(dataset_spec.assets_dir(data_dir, modality),
                                 'feature_stats.npz'))
  seen = 0
  for split in dataset_spec.SPLITS:
    ids = input_pipeline.candidate_ids(data_dir, modality, split)
    for b, row in _rows(_all_batches(data_dir, modality, split)):
      index = int(b['index'][row])
      record = raw[ids[index]]
      answers = record['answers']
      assert b['label'][row] == record['label']
      title = vocab.encode(text.tokenize(record['job_title']))
      assert b['job_title_length'][row] == len(title)
      np.testing.assert_array_equal(b['job_title'][row, :len(title)], title)
      assert not b['job_title'][row, len(title):].any()
      lengths = b['answer_lengths'][row]
      assert list(lengths[:len(answers)]) == meta['lengths'][split][index]
      assert not lengths[len(answers):].any()
      for k, answer in enumerate(answers):
        q = vocab.encode(text.tokenize(answer['question']))
        assert b['question_lengths'][row, k] == len(q)
        np.testing.assert_array_equal(b['questions'][row, k, :len(q)], q)
        if modality == 'text':
          expected = vocab.encode(text.tokenize(answer['transcript']))
          got = b['answers'][row, k, :lengths[k]]
        elif modality == 'audio':
          expected = np.load(os.path.join(corpus_dir, answer['audio']))
          got = b['answers'][row, k, :lengths[k]] * stats['std'] + stats['mean']
        else:
          from data_prep.hirenet import video  # pylint: disable=g-import-not-at-top
          expected = video.load_openface(os.path.join(corpus_dir, answer['video']))
          got = b['answers'][row, k, :lengths[k]] * stats['std'] + stats['mean']
        assert lengths[k] == len(expected)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        assert not b['answers'][row, k, lengths[k]:].any()
      seen += 1
  assert seen == 20


def test_audio_features_are_normalised_with_training_statistics(built):
  data_dir, _ = built
  batches = _all_batches(data_dir, 'audio', 'train')
  frames = np.concatenate([b['answers'][r, k, :b['answer_lengths'][r, k]]
                           for b, r in _rows(batches)
                           for k in range(b['answers'].shape[1])])
  np.testing.assert_allclose(frames.mean(0), 0, atol=1e-4)
  np.testing.assert_allclose(frames.std(0), 1, atol=1e-3)


def test_meta_and_assets_follow_the_contract(built):
  data_dir, summaries = built
  meta = input_pipeline.load_meta(data_dir, 'audio')
  assert meta['feature_dim'] == 25 and meta['feature_names'] == list(audio.FEATURE_NAMES)
  assert meta['frame_rate'] == audio.FRAME_RATE and meta['pad_id'] == 0
  emb = input_pipeline.load_embeddings(data_dir, 'text')
  assert emb.shape == (input_pipeline.load_meta(data_dir, 'text')['vocab_size'], 200)
  assert emb.dtype == np.float32 and not emb[0].any()
  shards = [f for f in os.listdir(dataset_spec.dataset_dir(data_dir, 'text'))
            if '-train.array_record' in f]
  assert len(shards) == 2
  table = summaries['text']['table2']
  assert table['candidates'] == {'train': 16, 'validation': 2, 'test': 2, 'total': 20}
  assert table['questions_per_interview'] == 3
  assert table['hirable_proportion'] == 7 / 20
  assert 'Hirable label proportion        35.0 %' in build.format_table2(summaries['text'])


def test_build_without_tensorflow(built):
  del built
  with pytest.raises(ImportError):
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import


def test_rebuild_with_same_corpus_and_settings_is_skipped(built, corpus_dir):
  data_dir, _ = built
  again = build.build_dataset(corpus_dir, 'text', data_dir, num_shards=2)
  assert again['cached']
  with pytest.raises(FileExistsError, match='overwrite'):
    build.build_dataset(corpus_dir, 'text', data_dir, num_shards=2, seed=1)


def test_split_is_the_same_for_every_modality(built):
  data_dir, summaries = built
  for split in dataset_spec.SPLITS:
    ids = {m: input_pipeline.candidate_ids(data_dir, m, split) for m in summaries}
    assert len({tuple(v) for v in ids.values()}) == 1


# Bad input: each case breaks one record of a valid corpus.

def _break(root, kind):
  """Breaks candidate c001 (or its answer 1) in one way; returns the expected reason."""
  records = read_jsonl(root)
  lines = [json.dumps(r, ensure_ascii=False) for r in records]
  answer = records[1]['answers'][1]
  if kind == 'malformed_json':
    lines[1] = lines[1][:-5]
    reason = 'malformed JSON'
  elif kind == 'missing_field':
    del records[1]['job_title']
    lines[1] = json.dumps(records[1])
    reason = 'missing field "job_title"'
  elif kind == 'duplicate_id':
    records[1]['candidate_id'] = 'c000'
    lines[1] = json.dumps(records[1])
    reason = 'duplicate candidate_id'
  elif kind == 'unreadable_audio':
    with open(os.path.join(root, answer['audio']), 'wb') as f:
      f.write(b'not a numpy file')
    reason = 'unreadable'
  elif kind == 'empty_audio':
    answer['audio'] = 'audio/empty.wav'
    open(os.path.join(root, answer['audio']), 'wb').close()
    lines[1] = json.dumps(records[1])
    reason = 'audio'
  elif kind == 'nan_features':
    x = np.load(os.path.join(root, answer['audio']))
    x[0, 3] = np.nan
    np.save(os.path.join(root, answer['audio']), x)
    reason = 'NaN'
  elif kind == 'missing_file':
    answer['audio'] = 'audio/gone.npy'
    lines[1] = json.dumps(records[1])
    reason = 'file not found'
  elif kind == 'malformed_openface':
    with open(os.path.join(root, answer['video']), 'w') as f:
      f.write('frame,timestamp\n1,0.0\n')
    reason = 'OpenFace CSV lacks'
  elif kind == 'no_usable_answer':
    for a in records[1]['answers']:
      a['audio'] = None
      a['transcript'] = ' ?! '
      a['video'] = None
    lines[1] = json.dumps(records[1])
    reason = 'no usable answer'
  else:
    raise ValueError(kind)
  write_jsonl(root, lines)
  return reason


_CASES = [
    ('malformed_json', 'text', 'all', None),
    ('missing_field', 'text', 'all', None),
    ('duplicate_id', 'text', 'all', None),
    ('unreadable_audio', 'audio', 'audio', 1),
    ('empty_audio', 'audio', 'audio', 1),
    ('nan_features', 'audio', 'audio', 1),
    ('missing_file', 'audio', 'audio', 1),
    ('malformed_openface', 'video', 'video', 1),
    ('no_usable_answer', 'audio', 'audio', None),
]


@pytest.mark.parametrize('kind, modality, manifest_modality, answer_index', _CASES)
def test_bad_input_fails_with_file_record_and_reason(tmp_path, kind, modality,
                                                     manifest_modality, answer_index):
  del manifest_modality, answer_index
  if modality == 'video' and not _has_video():
    pytest.skip('data_prep.hirenet.video is not available')
  root = make_corpus(tmp_path / 'corpus', 12, video=modality == 'video')
  reason = _break(root, kind)
  with pytest.raises(CorpusError) as e:
    build.build_dataset(root, modality, str(tmp_path / 'data'), workers=1)
  message = str(e.value)
  assert reason in message
  assert ('c001' in message or 'line 2' in message), message
  # validate lists the same problem.
  problems = validate.validate_corpus(root, modalities=[modality])
  assert any(reason in str(p) for p in problems), problems


@pytest.mark.parametrize('kind, modality, manifest_modality, answer_index', _CASES)
def test_bad_input_is_skipped_and_listed_in_the_manifest(tmp_path, kind, modality,
                                                         manifest_modality, answer_index):
  if modality == 'video' and not _has_video():
    pytest.skip('data_prep.hirenet.video is not available')
  root = make_corpus(tmp_path / 'corpus', 12, video=modality == 'video')
  reason = _break(root, kind)
  data_dir = str(tmp_path / 'data')
  summary = build.build_dataset(root, modality, data_dir, on_error='skip', workers=1)
  with open(os.path.join(data_dir, 'excluded_manifest.csv'), newline='') as f:
    rows = list(csv.DictReader(f))
  matching = [r for r in rows if reason in r['reason']]
  assert matching, rows
  row = matching[0]
  assert row['modality'] == manifest_modality
  if kind not in ('malformed_json', 'missing_field'):
    assert row['candidate_id'] in ('c001', 'c000')
  assert row['answer_index'] == ('' if answer_index is None else str(answer_index))
  ids = sum(summary_ids(data_dir, modality), [])
  counts = summary['counts']
  if answer_index is None:  # The whole candidate goes.
    assert counts['candidates_excluded'] == 1 and counts['candidates_kept'] == 11
    if kind != 'duplicate_id':
      assert 'c001' not in ids
  else:  # Only that answer goes, for that modality.
    assert 'c001' in ids and counts['answers_excluded'] == 1
    meta = input_pipeline.load_meta(data_dir, modality)
    for split in dataset_spec.SPLITS:
      if 'c001' in meta['candidate_ids'][split]:
        assert len(meta['lengths'][split][meta['candidate_ids'][split].index('c001')]) == 2


def summary_ids(data_dir, modality):
  return [input_pipeline.candidate_ids(data_dir, modality, s) for s in dataset_spec.SPLITS]


def test_dropped_answer_keeps_its_raw_answer_index(tmp_path):
  root = make_corpus(tmp_path / 'corpus', 12)
  _break(root, 'nan_features')  # c001 answer 1.
  data_dir = str(tmp_path / 'data')
  build.build_dataset(root, 'audio', data_dir, on_error='skip')
  meta = input_pipeline.load_meta(data_dir, 'audio')
  split = next(s for s in dataset_spec.SPLITS if 'c001' in meta['candidate_ids'][s])
  index = meta['candidate_ids'][split].index('c001')
  batches = list(input_pipeline.Batches(data_dir, 'audio', split, batch_size=16))
  (b,) = [b for b in batches if index in b['index']]
  row = list(b['index']).index(index)
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  source = tfds.builder_from_directory(dataset_spec.dataset_dir(data_dir, 'audio')
                                       ).as_data_source(split)
  np.testing.assert_array_equal(source[index]['answer_index'], [0, 2])
  assert list(b['answer_lengths'][row] > 0) == [True, True, False]


def _run_cli(module, *args):
  return subprocess.run([sys.executable, '-m', module, *args], capture_output=True,
                        text=True, cwd=os.path.dirname(os.path.dirname(__file__)))


def test_cli_reports_bad_data_in_one_line_without_traceback(tmp_path):
  root = make_corpus(tmp_path / 'corpus', 12)
  _break(root, 'malformed_json')
  result = _run_cli('data_prep.build', f'--corpus_dir={root}', '--modality=text',
                    f'--data_dir={tmp_path / "data"}')
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr
  assert 'error: interviews.jsonl: line 2: malformed JSON' in result.stderr
  result = _run_cli('data_prep.validate', f'--corpus_dir={root}', '--modalities=text')
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert 'line 2: malformed JSON' in result.stderr
  result = _run_cli('data_prep.validate', f'--corpus_dir={root}', '--modalities=text',
                    '--on_error=skip', f'--output_dir={tmp_path}')
  assert result.returncode == 0, result.stderr
  assert os.path.exists(tmp_path / 'excluded_manifest.csv')
  assert 'Candidates: 12 read, 11 kept in every modality, 1 excluded' in result.stdout


def test_cli_prints_table2(tmp_path):
  root = make_corpus(tmp_path / 'corpus', 12)
  result = _run_cli('data_prep.build', f'--corpus_dir={root}', '--modality=audio',
                    f'--data_dir={tmp_path / "data"}')
  assert result.returncode == 0, result.stderr
  for line in ('Train set', 'Validation set', 'Test set', 'Questions per interview',
               'Total length', 'Length per question', 'Hirable label proportion'):
    assert line in result.stdout


def test_shards_open_with_tfds_data_source(built):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  data_dir, _ = built
  source = tfds.data_source('hirenet_interviews/text', data_dir=data_dir)
  ids = input_pipeline.candidate_ids(data_dir, 'text', 'test')
  assert len(source['test']) == len(ids)
  assert [source['test'][i]['candidate_id'].decode() for i in range(len(ids))] == ids


def test_pretrained_embeddings_are_used_and_missing_words_counted(tmp_path):
  from gensim.models import KeyedVectors  # pylint: disable=g-import-not-at-top
  root = make_corpus(tmp_path / 'corpus', 12)
  kv = KeyedVectors(vector_size=8)
  kv.add_vectors(['bonjour', 'vendeur'], np.ones((2, 8), np.float32) * [[1], [2]])
  path = str(tmp_path / 'vectors.vec')
  kv.save_word2vec_format(path, binary=False)
  data_dir = str(tmp_path / 'data')
  summary = build.build_dataset(root, 'text', data_dir, embeddings=path)
  vocab = input_pipeline.load_vocab(data_dir, 'text')
  emb = input_pipeline.load_embeddings(data_dir, 'text')
  assert emb.shape == (len(vocab), 8)
  np.testing.assert_array_equal(emb[vocab.index('vendeur')], np.full(8, 2.0))
  assert summary['embeddings']['missing_words'] == len(vocab) - 2 - 2
  assert 'Words missing from embeddings' in build.format_table2(summary)
  with pytest.raises(ValueError, match='embeddings file not found'):
    build.build_dataset(root, 'text', data_dir, embeddings=str(tmp_path / 'nope.bin'),
                        overwrite=True)


def test_validate_counts_answers_and_candidates(tmp_path):
  root = make_corpus(tmp_path / 'corpus', 12)
  _break(root, 'nan_features')
  problems, counts = validate.check_corpus(root, modalities=['text', 'audio'])
  assert len(problems) == 1
  assert counts['candidates_read'] == 12 and counts['candidates_kept'] == 12
  assert counts['audio_answers_excluded'] == 1 and counts['audio_answers_kept'] == 35
  assert counts['text_answers_kept'] == 36


def test_featurize_corpus_reuses_the_trained_vocabulary_and_statistics(built, tmp_path):
  data_dir, _ = built
  new_corpus = make_corpus(tmp_path / 'new', 6, seed=7)
  out = str(tmp_path / 'featurized')
  for modality in ('text', 'audio'):
    info = build.featurize_corpus(new_corpus, modality, data_dir, out)
    assert info['splits'] == ('test',)
    assert sorted(input_pipeline.candidate_ids(out, modality, 'test')) == [
        f'c{i:03d}' for i in range(6)]
    assert (input_pipeline.load_vocab(out, modality)
            == input_pipeline.load_vocab(data_dir, modality))
    batches = list(input_pipeline.Batches(out, modality, 'test', batch_size=4))
    assert sum(b['weight'].sum() for b in batches) == 6
  stats = [np.load(os.path.join(dataset_spec.assets_dir(d, 'audio'), 'feature_stats.npz'))
           for d in (data_dir, out)]
  np.testing.assert_array_equal(stats[0]['mean'], stats[1]['mean'])
  info = input_pipeline.record_info(out, 'audio', 'test')
  assert info['position_id'][:2] == ['pos0', 'pos1'] and info['label'][:2] == [1, 0]


def test_by_position_build_keeps_each_position_in_one_split(corpus_dir, tmp_path):
  data_dir = str(tmp_path / 'data')
  build.build_dataset(corpus_dir, 'text', data_dir, split='by_position')
  meta = input_pipeline.load_meta(data_dir, 'text')
  positions = {s: set(meta['position_ids'][s]) for s in dataset_spec.SPLITS}
  assert all(positions[s] for s in dataset_spec.SPLITS)
  assert not (positions['train'] & positions['validation'])
  assert not (positions['train'] & positions['test'])
  assert not (positions['validation'] & positions['test'])
