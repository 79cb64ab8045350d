"""Tests for data_prep.hirenet.beam_build: a Beam build is the local build's dataset.

A tiny corpus with text, audio (WAV through openSMILE) and video (OpenFace CSVs) and
planted bad records is built by both runners; the records (bit for bit), splits,
assets, meta.json and exclusion manifests must agree. Skipped without Apache Beam
(`pip install -e '.[beam]'`), except the test of the message that names the extra.
"""

import importlib.util
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

from data_prep.errors import CorpusError
from data_prep.hirenet import build
from data_prep.hirenet import synthetic
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.hirenet.dataset_spec import SPLITS

HAS_BEAM = importlib.util.find_spec('apache_beam') is not None
needs_beam = pytest.mark.skipif(not HAS_BEAM, reason="needs pip install -e '.[beam]'")
MODALITIES = ('text', 'audio', 'video')
# The in-process DirectRunner: fast to start, and sees this process's monkeypatches.
IN_PROCESS = 'direct_num_workers=1,direct_running_mode=in_memory'


def _planted_corpus(root: str) -> str:
  """24 candidates, 2 answers each, with one bad record of each kind the build meets."""
  corpus = synthetic.generate_corpus(
      root, num_candidates=24, seed=3, modalities=MODALITIES, questions_per_interview=2,
      words_per_answer=8.0, seconds_per_answer=1.0, missing_audio_rate=0.0,
      missing_video_rate=0.0, workers=1)
  path = os.path.join(corpus, 'interviews.jsonl')
  with open(path, encoding='utf-8') as f:
    records = [json.loads(line) for line in f]
  by_id = {r['candidate_id']: r for r in records}
  answers = lambda cid: by_id[cid]['answers']
  with open(os.path.join(corpus, answers('c00003')[0]['audio']), 'wb') as f:
    f.write(b'not a wav file at all')  # audio: unreadable.
  os.remove(os.path.join(corpus, answers('c00005')[1]['audio']))  # audio: file not found.
  for answer in answers('c00007'):  # audio: no usable answer left.
    answer['audio'] = answer['audio'].replace('.wav', '.npy')
    np.save(os.path.join(corpus, answer['audio']), np.full((10, 25), np.nan, np.float32))
  answers('c00009')[0]['transcript'] = '... !'  # text: no word.
  csv = os.path.join(corpus, answers('c00011')[1]['video'])  # video: no reliable frame.
  with open(csv, encoding='utf-8') as f:
    header, *rows = f.read().splitlines()
  column = [c.strip() for c in header.split(',')].index('confidence')
  rows = [','.join('0.1' if k == column else v for k, v in enumerate(row.split(',')))
          for row in rows]
  with open(csv, 'w', encoding='utf-8') as f:
    f.write('\n'.join([header] + rows) + '\n')
  with open(path, 'w', encoding='utf-8') as f:
    for r in records:
      f.write(json.dumps(r, ensure_ascii=False) + '\n')
    f.write('{"candidate_id": "c99999", "answers": [\n')  # all: malformed JSON.
  return corpus


@pytest.fixture(scope='module')
def corpus_dir(tmp_path_factory):
  return _planted_corpus(str(tmp_path_factory.mktemp('corpus')))


@pytest.fixture(scope='module')
def built(tmp_path_factory, corpus_dir):
  """{runner: (data_dir, {modality: summary})}, every modality built into one data_dir."""
  if not HAS_BEAM:
    pytest.skip("needs pip install -e '.[beam]'")
  out = {}
  for runner in ('local', 'beam'):
    data_dir = str(tmp_path_factory.mktemp(runner))
    out[runner] = data_dir, {
        m: build.build_dataset(corpus_dir, m, data_dir, on_error='skip', num_shards=2,
                               runner=runner, workers=1,
                               beam_options=IN_PROCESS if runner == 'beam' else None)
        for m in MODALITIES}
  return out


def _records(data_dir, modality):
  """{split: [record dict]} in record order, read back through TFDS."""
  builder = tfds.builder_from_directory(dataset_spec.dataset_dir(data_dir, modality))
  out = {}
  for split in SPLITS:
    source = builder.as_data_source(split=split)
    out[split] = [source[k] for k in range(len(source))]
  return out


def _num_audio_files(corpus_dir):
  with open(os.path.join(corpus_dir, 'interviews.jsonl'), encoding='utf-8') as f:
    records = [json.loads(line) for line in f.readlines()[:-1]]  # Not the malformed one.
  return sum(a['audio'] is not None for r in records for a in r['answers'])


def _meta(data_dir, modality):
  with open(os.path.join(dataset_spec.assets_dir(data_dir, modality), 'meta.json'),
            encoding='utf-8') as f:
    return json.loads(f.read().replace(data_dir, '<data_dir>'))


@needs_beam
@pytest.mark.parametrize('modality', MODALITIES)
def test_both_runners_write_the_same_records_bit_for_bit(built, modality):
  local, beam = (_records(built[r][0], modality) for r in ('local', 'beam'))
  for split in SPLITS:
    assert len(local[split]) == len(beam[split]) > 0
    for a, b in zip(local[split], beam[split]):
      assert a.keys() == b.keys()
      for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert x.dtype == y.dtype and x.shape == y.shape, key
        assert x.tobytes() == y.tobytes(), (split, a['candidate_id'], key)


@needs_beam
@pytest.mark.parametrize('modality', MODALITIES)
def test_both_runners_write_the_same_meta_and_assets(built, modality):
  (local_dir, _), (beam_dir, _) = built['local'], built['beam']
  assert _meta(local_dir, modality) == _meta(beam_dir, modality)
  local_assets = dataset_spec.assets_dir(local_dir, modality)
  beam_assets = dataset_spec.assets_dir(beam_dir, modality)
  assert sorted(os.listdir(local_assets)) == sorted(os.listdir(beam_assets))
  for name in os.listdir(local_assets):
    a, b = os.path.join(local_assets, name), os.path.join(beam_assets, name)
    if name.endswith('.npz'):
      with np.load(a) as x, np.load(b) as y:
        assert sorted(x) == sorted(y)
        assert all(x[k].tobytes() == y[k].tobytes() for k in x), name
    elif name != 'meta.json':
      with open(a, 'rb') as x, open(b, 'rb') as y:
        assert x.read() == y.read(), name


@needs_beam
def test_planted_bad_records_are_listed_the_same_way(built, corpus_dir):
  (local_dir, local), (beam_dir, beam) = built['local'], built['beam']
  with open(os.path.join(local_dir, build.MANIFEST), encoding='utf-8') as f:
    manifest = f.read()
  with open(os.path.join(beam_dir, build.MANIFEST), encoding='utf-8') as f:
    assert f.read() == manifest
  for planted in ('c00003,0,audio,audio/c00003_1.wav,audio: unreadable audio',
                  'c00005,1,audio,audio/c00005_2.wav,audio: file not found',
                  'c00007,,audio,interviews.jsonl,line 8 (c00007): audio: no usable answer',
                  'c00009,0,text,interviews.jsonl,text: transcript has no word',
                  'c00011,1,video,openface/c00011_2.csv,video: no reliable frame',
                  ',,all,interviews.jsonl,line 25: malformed JSON'):
    assert planted in manifest
  for m in MODALITIES:
    assert beam[m]['counts'] == local[m]['counts']
  # The pipeline's counters agree with the manifest.
  counters = beam['audio']['beam_counters']
  assert counters['answers_excluded'] == 3  # c00003's, c00007's two (c00005's is missing).
  assert counters['candidates_excluded'] == 1  # c00007.
  assert counters['media_files'] == _num_audio_files(corpus_dir) - 1  # c00005's is missing.
  assert counters['audio_ms'] > 0


@needs_beam
@pytest.mark.parametrize('modality', ['text', 'audio'])
def test_the_input_pipeline_reads_the_same_batches(built, modality):
  batches = {}
  for runner in ('local', 'beam'):
    batches[runner] = list(input_pipeline.Batches(
        built[runner][0], modality, 'train', batch_size=4, seed=1, shuffle=True))
  assert len(batches['local']) == len(batches['beam']) > 0
  for a, b in zip(batches['local'], batches['beam']):
    assert a.keys() == b.keys()
    for key in a:
      assert np.array_equal(np.asarray(a[key]), np.asarray(b[key])), key


@needs_beam
def test_on_error_fail_names_the_same_first_problem(corpus_dir, tmp_path):
  # Without the malformed line and the missing file (both found before any extraction),
  # the first problem is one the pipeline finds: c00003's unreadable audio.
  corpus = shutil.copytree(corpus_dir, str(tmp_path / 'corpus'))
  path = os.path.join(corpus, 'interviews.jsonl')
  with open(path, encoding='utf-8') as f:
    records = [json.loads(line) for line in f.readlines()[:-1]]
  records[5]['answers'][1]['audio'] = None
  with open(path, 'w', encoding='utf-8') as f:
    f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in records)
  messages = []
  for runner in ('local', 'beam'):
    with pytest.raises(CorpusError) as e:
      build.build_dataset(corpus, 'audio', str(tmp_path / runner), runner=runner,
                          workers=1, beam_options=IN_PROCESS if runner == 'beam' else None)
    messages.append(str(e.value))
    assert not os.path.exists(dataset_spec.dataset_dir(str(tmp_path / runner), 'audio'))
  assert messages[0] == messages[1]
  assert messages[0].startswith('audio/c00003_1.wav: c00003 answer 0: audio: unreadable')


@needs_beam
def test_a_failed_build_leaves_the_older_dataset_readable(built, corpus_dir, tmp_path,
                                                          monkeypatch):
  data_dir = str(tmp_path / 'data')
  shutil.copytree(built['local'][0], data_dir)
  before = _records(data_dir, 'text')
  meta = _meta(data_dir, 'text')

  def crash(*args, **kwargs):
    raise RuntimeError('killed half-way')

  monkeypatch.setattr(build, '_example', crash)  # Fails inside the pipeline.
  with pytest.raises(Exception, match='killed half-way'):
    build.build_dataset(corpus_dir, 'text', data_dir, on_error='skip', num_shards=2,
                        runner='beam', overwrite=True, beam_options=IN_PROCESS)
  after = _records(data_dir, 'text')
  assert [r['candidate_id'] for s in SPLITS for r in after[s]] == [
      r['candidate_id'] for s in SPLITS for r in before[s]]
  assert _meta(data_dir, 'text') == meta
  # The pipeline's folder is gone, and nothing else was left beside the datasets.
  assert sorted(os.listdir(data_dir)) == sorted(os.listdir(built['local'][0]))


@needs_beam
def test_a_build_in_worker_processes_is_the_same(built, corpus_dir, tmp_path):
  data_dir = str(tmp_path / 'data')
  summary = build.build_dataset(
      corpus_dir, 'audio', data_dir, on_error='skip', num_shards=2, runner='beam',
      beam_options='direct_num_workers=2,direct_running_mode=multi_processing')
  assert summary['beam_counters']['media_files'] == _num_audio_files(corpus_dir) - 1
  assert _meta(data_dir, 'audio') == _meta(built['local'][0], 'audio')
  local, beam = _records(built['local'][0], 'audio'), _records(data_dir, 'audio')
  for split in SPLITS:
    assert [r['answers'].tobytes() for r in beam[split]] == [
        r['answers'].tobytes() for r in local[split]]


@needs_beam
def test_a_built_dataset_is_not_rebuilt_by_either_runner(built, corpus_dir):
  data_dir, _ = built['beam']
  for runner in ('local', 'beam'):
    summary = build.build_dataset(corpus_dir, 'text', data_dir, on_error='skip',
                                  num_shards=2, runner=runner)
    assert summary['cached']


@needs_beam
def test_pipeline_options_read_both_spellings_and_default_to_every_core():
  from apache_beam.options import pipeline_options as po  # pylint: disable=g-import-not-at-top
  from data_prep.hirenet import beam_build  # pylint: disable=g-import-not-at-top
  tfds_form = beam_build.pipeline_options(
      'runner=DataflowRunner,project=p,region=europe-west1,temp_location=gs://b/tmp')
  flag_form = beam_build.pipeline_options(
      '--runner=DataflowRunner --project=p --region=europe-west1 '
      '--temp_location=gs://b/tmp')
  for options in (tfds_form, flag_form):
    assert options.view_as(po.StandardOptions).runner == 'DataflowRunner'
    assert options.view_as(po.GoogleCloudOptions).project == 'p'
    assert options.view_as(po.GoogleCloudOptions).temp_location == 'gs://b/tmp'
  direct = beam_build.pipeline_options(None, workers=3).view_as(po.DirectOptions)
  assert (direct.direct_num_workers, direct.direct_running_mode) == (3, 'multi_processing')
  one = beam_build.pipeline_options('direct_num_workers=1').view_as(po.DirectOptions)
  assert (one.direct_num_workers, one.direct_running_mode) == (1, 'in_memory')


def test_bad_runner_arguments_are_refused_before_any_work(tmp_path):
  with pytest.raises(ValueError, match='runner must be one of'):
    build.build_dataset(str(tmp_path), 'text', str(tmp_path), runner='spark')
  with pytest.raises(ValueError, match='only with runner=beam'):
    build.build_dataset(str(tmp_path), 'text', str(tmp_path), beam_options='runner=x')
  with pytest.raises(ValueError, match='local runner only'):
    build.build_dataset(str(tmp_path), 'text', str(tmp_path), runner='beam',
                        representation='llm')


@pytest.mark.skipif(HAS_BEAM, reason='Apache Beam is installed')
def test_without_beam_the_error_names_the_extra(corpus_dir, tmp_path):
  with pytest.raises(ValueError, match=r"pip install -e '\.\[beam\]'"):
    build.build_dataset(corpus_dir, 'text', str(tmp_path), on_error='skip', runner='beam')
  assert not os.path.exists(dataset_spec.dataset_dir(str(tmp_path), 'text'))
