"""experiments.train --corpus_dir takes data_prep.build's options (--embeddings,
--on_error, declared decision words), and each set of options has its own cached dataset
while the default options keep the name the cache has always had."""

import hashlib
import json
import os

import ml_collections
import numpy as np
import pytest

from data_prep.hirenet import datasets
from hirenet_jax.hirenet import input_pipeline
from helpers import TINY_FLAGS, run_cli, tiny_data

_NEW_WORD = 'advance'  # A decision word the corpus reader does not know by default.


@pytest.fixture(scope='module')
def user_corpus(tmp_path_factory):
  """The tiny corpus with one bad record (label 7) and its first hirable candidates
  labelled only by an undeclared decision word; (corpus_dir, ids relabelled, vector file)."""
  source, w2v_data = tiny_data()
  root = tmp_path_factory.mktemp('user_corpus')
  with open(os.path.join(source, 'interviews.jsonl'), encoding='utf-8') as f:
    records = [json.loads(line) for line in f]
  relabelled = []
  for record in records:
    if record['label'] == 1 and len(relabelled) < 3:
      del record['label']
      record['decisions'] = [_NEW_WORD]
      relabelled.append(record['candidate_id'])
  bad = dict(records[0], candidate_id='bad_label', label=7)
  with open(root / 'interviews.jsonl', 'w', encoding='utf-8') as f:
    for record in records + [bad]:
      f.write(json.dumps(record, ensure_ascii=False) + '\n')
  # A GloVe-style text file (24-d) over half the corpus's words.
  words = input_pipeline.load_vocab(w2v_data, 'text')[2::2]
  rng = np.random.default_rng(0)
  vectors = root / 'vectors.txt'
  with open(vectors, 'w', encoding='utf-8') as f:
    for word in words:
      f.write(word + ' ' + ' '.join(f'{x:.5f}' for x in rng.standard_normal(24)) + '\n')
  return str(root), relabelled, str(vectors)


def test_train_with_build_options_skips_and_reports_the_bad_record(user_corpus, tmp_path):
  corpus_dir, relabelled, vectors = user_corpus
  workdir = str(tmp_path / 'run')
  proc = run_cli('experiments.train', f'--corpus_dir={corpus_dir}', f'--workdir={workdir}',
                 f'--prepared_cache_dir={tmp_path / "prepared"}', '--on_error=skip',
                 f'--hirable_decisions={_NEW_WORD}', f'--embeddings={vectors}', *TINY_FLAGS)
  (data_dir,) = [os.path.join(tmp_path / 'prepared', d)
                 for d in os.listdir(tmp_path / 'prepared')]
  meta = input_pipeline.load_meta(data_dir, 'text')
  # The one bad record is counted and listed, in the output and the manifest.
  assert meta['counts']['candidates_excluded'] == 1
  assert meta['counts']['candidates_read'] == meta['counts']['candidates_kept'] + 1
  assert '1 excluded' in proc.stdout
  assert f'Exclusions listed in {meta["manifest"]}' in proc.stdout
  with open(meta['manifest'], encoding='utf-8') as f:
    assert 'bad_label' in f.read()
  # The declared word made its candidates hirable instead of dropping them.
  kept = {c: l for s in meta['labels'] for c, l in zip(meta['candidate_ids'][s],
                                                         meta['labels'][s])}
  assert 'bad_label' not in kept and all(kept[c] == 1 for c in relabelled)
  # The vector file is the dataset's representation, and the run's.
  source = f'vectors:{os.path.abspath(vectors)}'
  assert meta['embeddings']['source'] == source and meta['embedding_dim'] == 24
  with open(os.path.join(workdir, 'results.json')) as f:
    results = json.load(f)
  assert results['config']['text_representation'] == source
  assert results['config']['on_error'] == 'skip'
  assert results['config']['hirable_decisions'] == _NEW_WORD


def test_bad_record_without_skip_is_one_line_naming_the_option(user_corpus, tmp_path):
  corpus_dir, _, _ = user_corpus
  proc = run_cli('experiments.train', f'--corpus_dir={corpus_dir}',
                 f'--workdir={tmp_path}/w', f'--prepared_cache_dir={tmp_path}/p',
                 f'--hirable_decisions={_NEW_WORD}', *TINY_FLAGS, check=False)
  assert proc.returncode == 1
  errors = [l for l in proc.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and '--on_error=skip' in errors[0], proc.stderr[-2000:]
  assert 'Traceback' not in proc.stderr


def _options(**fields):
  config = ml_collections.ConfigDict(dict(modality='text', split='by_candidate', **fields))
  return datasets.build_options(config)


def test_cache_key_is_unchanged_by_default_options_and_changed_by_any_other():
  corpus = '/data/corpus'
  historical = hashlib.sha1(f'{corpus}|by_candidate'.encode()).hexdigest()[:12]
  defaults = dict(embeddings='', on_error='fail', hirable_decisions='',
                  not_hirable_decisions='', allow_external_media=False)
  assert datasets.cache_key(corpus, 'by_candidate', None, _options()) == historical
  assert datasets.cache_key(corpus, 'by_candidate', None, _options(**defaults)) == historical
  others = [dict(embeddings='/v/a.vec'), dict(embeddings='/v/b.vec'), dict(on_error='skip'),
            dict(hirable_decisions='advance'), dict(not_hirable_decisions='advance'),
            dict(hirable_decisions='advance,hire'), dict(allow_external_media=True)]
  keys = {datasets.cache_key(corpus, 'by_candidate', None, _options(**dict(defaults, **o)))
          for o in others}
  assert len(keys) == len(others) and historical not in keys
  # Word order, case and spaces do not make another dataset.
  assert (datasets.cache_key(corpus, 'by_candidate', None,
                             _options(hirable_decisions=' Hire,advance'))
          == datasets.cache_key(corpus, 'by_candidate', None,
                                _options(hirable_decisions='advance,hire')))


def test_bad_options_are_prepare_errors():
  with pytest.raises(datasets.PrepareError, match='on_error'):
    _options(on_error='ignore')
  with pytest.raises(datasets.PrepareError, match='both'):
    _options(hirable_decisions='advance', not_hirable_decisions='advance')
