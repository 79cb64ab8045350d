"""Tests for the atomic writers of hirenet_jax.core.run_log (every JSON and JSONL file the
library and data_prep write goes through them) and for reading back finished runs."""

from __future__ import annotations

import json
import os

import pytest

from hirenet_jax.core import run_log

DOC = {'b': [1, 2.5, None], 'a': {'é': 'ça'}, 'z': 'x'}


def test_write_json_keeps_each_callers_historical_bytes(tmp_path):
  path = str(tmp_path / 'out.json')
  # What each writer wrote before they shared this one, byte for byte.
  cases = [
      ({}, json.dumps(DOC, indent=2, sort_keys=True)),  # run files (config.json, ...)
      (dict(indent=1, sort_keys=False, ensure_ascii=False),  # a dataset's meta.json
       json.dumps(DOC, ensure_ascii=False, indent=1)),
      (dict(indent=1, sort_keys=False, end='\n'),  # a corpus's corpus_info.json
       json.dumps(DOC, indent=1) + '\n'),
      (dict(indent=None, sort_keys=False), json.dumps(DOC)),  # MockLLM progress.json
  ]
  for kwargs, expected in cases:
    run_log.write_json(path, DOC, **kwargs)
    with open(path, 'rb') as f:
      assert f.read() == expected.encode('utf-8'), kwargs
  assert os.listdir(tmp_path) == ['out.json']  # No temporary file is left behind.


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
  path = str(tmp_path / 'out.json')
  run_log.write_json(path, DOC)
  with pytest.raises(TypeError):
    run_log.write_json(path, {'not json': object()})
  with open(path) as f:
    assert json.load(f) == DOC
  assert os.listdir(tmp_path) == ['out.json']


def test_write_jsonl_round_trips_one_record_a_line(tmp_path):
  path = str(tmp_path / 'records.jsonl')
  records = [{'id': i, 'text': 'réponse\nsur deux lignes'} for i in range(3)]
  run_log.write_jsonl(path, iter(records))
  with open(path, encoding='utf-8') as f:
    lines = f.read().splitlines()
  assert [json.loads(line) for line in lines] == records
  assert 'é' in lines[0]  # Non-ASCII kept as it is.


def test_read_or_run_reads_a_finished_run_back_without_running(tmp_path):
  path = str(tmp_path / 'results.json')
  calls = []

  def run():
    calls.append(1)
    run_log.write_json(path, {'f1': 0.5})
    return {'f1': 0.5}

  assert run_log.read_or_run(path, run) == {'f1': 0.5} and len(calls) == 1
  assert run_log.read_or_run(path, run) == {'f1': 0.5} and len(calls) == 1
