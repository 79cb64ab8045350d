"""What a run leaves on the terminal and in the temporary directory."""

from __future__ import annotations

import glob
import json
import logging as py_logging
import os
import tempfile

from absl import logging
import pytest

from data_prep.hirenet import build
from hirenet_jax.core import run_log


def _passes(logger_name: str, level: int, pathname: str = __file__) -> bool:
  """Whether a record of `logger_name` reaches absl's handler.

  The root logger's level is absl's --verbosity; only the levels below it count here.
  """
  logger = py_logging.getLogger(logger_name)
  node = logger
  while node is not None and node is not py_logging.root:
    if node.level != py_logging.NOTSET:
      if level < node.level:
        return False
      break
    node = node.parent
  record = logger.makeRecord(logger_name, level, pathname, 1, 'message', (), None)
  return all(f.filter(record) for target in run_log._installed_filters()  # pylint: disable=protected-access
             for f in target.filters)


@pytest.fixture
def restore_terminal():
  yield
  run_log.configure_terminal(1)


@pytest.mark.parametrize('name, pathname', [
    ('gensim.models.word2vec', '/site-packages/gensim/models/word2vec.py'),
    ('jax._src.xla_bridge', '/site-packages/jax/_src/xla_bridge.py'),
    ('absl', '/site-packages/tensorflow_datasets/core/dataset_builder.py'),
    ('absl', '/site-packages/grain/_src/python/data_loader.py'),
])
def test_verbosity_0_silences_dependencies_and_1_brings_them_back(
    restore_terminal, name, pathname):
  del restore_terminal
  run_log.configure_terminal(0)
  assert not _passes(name, py_logging.INFO, pathname)
  assert not _passes(name, py_logging.WARNING, pathname)
  assert _passes(name, py_logging.ERROR, pathname)
  run_log.configure_terminal(1)
  assert _passes(name, py_logging.INFO, pathname)
  assert _passes(name, py_logging.WARNING, pathname)


def test_verbosity_0_keeps_our_epoch_lines_and_hides_step_lines(restore_terminal):
  del restore_terminal
  run_log.configure_terminal(0)
  ours = os.path.join(os.path.dirname(run_log.__file__), 'train_lib.py')
  assert _passes('absl', py_logging.INFO, ours)
  assert _passes('absl', py_logging.WARNING, ours)
  shown, details = [], []
  reporter = run_log.ProgressReporter(
      10, log_fn=lambda m, *a: shown.append(m % a),
      detail_fn=lambda m, *a: details.append(m % a))
  reporter.report(5, {'loss': 0.5}, epoch=0)
  reporter.log('epoch %d: done', 0)
  assert shown == ['epoch 0: done']
  assert len(details) == 1 and details[0].startswith('epoch 0 step 5/10')


def test_configuring_twice_installs_one_filter(restore_terminal):
  del restore_terminal
  run_log.configure_terminal(0)
  run_log.configure_terminal(0)
  for target in run_log._installed_filters():  # pylint: disable=protected-access
    assert sum(isinstance(f, run_log._ThirdPartyFilter)  # pylint: disable=protected-access
               for f in target.filters) <= 1


def _tiny_corpus(corpus_dir) -> str:
  os.makedirs(corpus_dir)
  with open(os.path.join(corpus_dir, 'interviews.jsonl'), 'w', encoding='utf-8') as f:
    for i in range(30):
      f.write(json.dumps({
          'candidate_id': f'c{i}', 'position_id': f'p{i % 2}', 'job_title': 'Vendeur',
          'label': i % 2, 'answers': [
              {'question': 'Présentez-vous.', 'transcript': f'bonjour je suis {i} ici'},
              {'question': 'Pourquoi ?', 'transcript': 'parce que' + ' oui' * (i % 5)}]}) + '\n')
  return str(corpus_dir)


def test_building_a_dataset_leaves_no_directory_in_the_temporary_directory(
    tmp_path, monkeypatch):
  temp = tmp_path / 'temp'
  temp.mkdir()
  monkeypatch.setenv('TMPDIR', str(temp))
  monkeypatch.setattr(tempfile, 'tempdir', str(temp))
  corpus_dir = _tiny_corpus(tmp_path / 'corpus')
  assert tempfile.gettempdir() == str(temp)
  build.build_dataset(corpus_dir, 'text', str(tmp_path / 'data'))
  build.build_dataset(corpus_dir, 'text', str(tmp_path / 'data'), overwrite=True)
  assert os.listdir(temp) == []
  assert not glob.glob(os.path.join(str(temp), 'tmp*tfds'))
