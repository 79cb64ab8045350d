"""End to end on tiny synthetic corpora: the train / predict commands, resume after a kill,
one-line errors, and that HireNet learns a planted cue (beats the position-majority vote).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from hirenet_jax.core import metrics as metrics_lib
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.hirenet import train_lib
from helpers import REPO, TINY_FLAGS, XLA_CACHE, cli_env, load_final_params, run_cli
from helpers import tiny_config, tiny_data


def _predict(workdir: str, corpus_dir: str, output: str) -> tuple[list[dict], dict]:
  """experiments.predict on `corpus_dir`: its output lines and the corpus's interviews by
  candidate id."""
  run_cli('experiments.predict', f'--workdir={workdir}', f'--corpus_dir={corpus_dir}',
          f'--output={output}')
  with open(output) as f:
    lines = [json.loads(line) for line in f]
  with open(os.path.join(corpus_dir, 'interviews.jsonl')) as f:
    interviews = {r['candidate_id']: r for r in map(json.loads, f)}
  return lines, interviews


def test_train_then_predict_commands(tiny, tmp_path):
  corpus_dir, _ = tiny
  workdir = str(tmp_path / 'run')
  proc = run_cli('experiments.train', '--modality=text', '--variant=hirenet',
                 f'--corpus_dir={corpus_dir}', f'--workdir={workdir}', '--seed=3',
                 f'--prepared_cache_dir={tmp_path / "prepared"}', *TINY_FLAGS)
  assert 'validation' in proc.stdout and 'test' in proc.stdout and 'precision' in proc.stdout
  with open(os.path.join(workdir, 'results.json')) as f:
    results = json.load(f)
  for split in ('validation', 'test'):
    assert {'precision', 'recall', 'f1', 'accuracy', 'roc_auc'} <= set(results[split])
  assert results['config']['seed'] == 3
  # Baselines beside the run, on its test split, as rows of the printed table.
  assert set(results['baselines']) == {'majority_vote', 'tfidf_logreg', 'probe_logreg'}
  assert set(results['baselines']['probe_logreg']) == set(results['baselines']['tfidf_logreg'])
  for baseline in results['baselines'].values():
    assert baseline['test']['num_examples'] == results['test']['num_examples']
  assert 'test: majority vote' in proc.stdout and 'test: TF-IDF + LR' in proc.stdout
  assert 'test: probe (mean vectors) + LR' in proc.stdout
  assert isinstance(results['warnings'], list)
  assert proc.stdout.count('WARNING: ') == len(results['warnings'])
  history = results['history']
  assert history[metrics_lib.select_epoch(history, results['selection_metric'])]['epoch'] \
      == results['best_epoch']
  assert os.path.getsize(os.path.join(workdir, 'curves.png')) > 1000
  with open(os.path.join(workdir, 'predictions.csv')) as f:
    header, *rows = f.read().splitlines()
  assert header == 'candidate_id,position_id,label,score,split'
  assert len(rows) == results['validation']['num_examples'] + results['test']['num_examples']

  lines, interviews = _predict(workdir, corpus_dir, str(tmp_path / 'scores.jsonl'))
  assert {line['candidate_id'] for line in lines} == set(interviews)
  for line in lines:
    num_answers = len(interviews[line['candidate_id']]['answers'])
    assert len(line['question_attention']) == num_answers
    assert len(line['answer_attention']) == num_answers
    assert line['answer_index'] == list(range(num_answers))
    assert sum(line['question_attention']) == pytest.approx(1.0, abs=1e-4)
    for weights in line['answer_attention']:
      assert len(weights) > 0 and sum(weights) == pytest.approx(1.0, abs=1e-4)
  # predict uses the selected checkpoint: the same scores as predictions.csv.
  test_scores = {r.split(',')[0]: float(r.split(',')[3]) for r in rows}
  for line in lines:
    if line['candidate_id'] in test_scores:
      assert line['score'] == pytest.approx(test_scores[line['candidate_id']], abs=1e-5)

  # explain: every number in explain.json, an HTML report, hit rates against the
  # synthetic corpus's planted spans.
  out_dir = tmp_path / 'explain'
  proc = run_cli('experiments.explain', f'--workdir={workdir}', f'--out_dir={out_dir}',
                 '--split=all', '--num_reports=2')
  with open(out_dir / 'explain.json') as f:
    explained = json.load(f)
  run = explained['runs']['text']
  assert run['num_candidates'] == len(interviews)
  gt = run['ground_truth']['answer_peak_in_cue_span']
  assert 0.0 < gt['chance'] < 1.0
  # What the planted corpus implies: every key answer holds a cue span (its total), and
  # the peaks of the attention explain.json reports fall in those spans (its hits).
  with open(os.path.join(corpus_dir, 'ground_truth.jsonl')) as f:
    truth = {t['candidate_id']: t for t in map(json.loads, f)}
  assert gt['total'] == sum(len(t['key_answers']) for t in truth.values())
  hits = 0.0
  for cand in explained['candidates']['text']:
    t = truth[cand['candidate_id']]
    for a in cand['answers']:
      if a['answer_index'] in t['key_answers']:
        cues = [e['chars'] for e in t['answers'][a['answer_index']]['text']
                if e['event'] in ('X', 'Y')]
        in_cue = np.asarray([any(s < c1 and e > c0 for c0, c1 in cues)
                             for s, e in a['word_offsets']])
        weights = np.asarray(a['attention'])
        hits += in_cue[weights >= weights.max() * (1 - 1e-7)].mean()
  assert gt['hits'] == pytest.approx(hits) and gt['rate'] == pytest.approx(hits / gt['total'])
  first = explained['candidates']['text'][0]['answers'][0]
  assert len(first['words']) == len(first['attention']) == len(first['word_importance'])
  assert len(list((out_dir / 'candidates').glob('*.html'))) == 2
  assert (out_dir / 'text_top_words.png').exists() or not run['top_words']
  assert 'attention peak inside the planted cue span' in proc.stdout

  # Any corpus in the raw format: featurised with the run's vocabulary, every candidate
  # scored, one attention weight per word of each answer.
  from data_prep.hirenet import synthetic
  other = synthetic.generate_corpus(str(tmp_path / 'other'), num_candidates=6, seed=7,
                                    modalities=('text',), words_per_answer=9, workers=1)
  lines, others = _predict(workdir, other, str(tmp_path / 'other.jsonl'))
  assert sorted(line['candidate_id'] for line in lines) == sorted(others)
  for line in lines:
    answers = others[line['candidate_id']]['answers']
    assert len(line['answer_attention']) == len(answers)
    assert 0.0 <= line['score'] <= 1.0


# experiments.train, with the first checkpoint at or after `step` followed by SIGKILL.
KILL_AFTER_CHECKPOINT = """
import os, signal, sys
from absl import app
from hirenet_jax.core import checkpointing
save_latest = checkpointing.Checkpointer.save_latest
def save_then_die(self, step, *args, **kwargs):
  save_latest(self, step, *args, **kwargs)
  if step >= {step}:
    self.wait()
    os.kill(os.getpid(), signal.SIGKILL)
checkpointing.Checkpointer.save_latest = save_then_die
from experiments import train
sys.argv[0] = 'train'
app.run(train.entry)
"""


def test_killed_run_resumes_to_the_same_parameters_and_metrics(tiny, tmp_path):
  _, data_dir = tiny
  overrides = {'num_epochs': 3, 'checkpoint_every_steps': 3}
  full_dir = str(tmp_path / 'full')
  full = train_lib.train_and_evaluate(tiny_config(data_dir, **overrides), full_dir)

  killed_dir = str(tmp_path / 'killed')
  # The run is killed like a preempted job: SIGKILL right after its step-6 checkpoint.
  proc = subprocess.run(
      [sys.executable, '-c', KILL_AFTER_CHECKPOINT.format(step=6), f'--data_dir={data_dir}',
       f'--workdir={killed_dir}', *TINY_FLAGS, '--config.num_epochs=3',
       '--config.checkpoint_every_steps=3', f'--jax_cache_dir={XLA_CACHE}'],
      cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300)
  assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
  assert not os.path.exists(os.path.join(killed_dir, 'results.json'))
  resumed = train_lib.train_and_evaluate(tiny_config(data_dir, **overrides), killed_dir)

  for split in ('validation', 'test'):
    assert resumed[split] == pytest.approx(full[split], rel=1e-6, abs=1e-6)
  assert resumed['history'] == full['history']  # Per-epoch train / validation metrics.
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6),
               load_final_params(full_dir), load_final_params(killed_dir))


@pytest.mark.parametrize('args,message', [
    (['--variant=transformer'], 'unknown variant'),
    (['--modality=smell'], 'unknown modality'),
    (['--modality=audio'], 'audio'),  # The tiny corpus has no audio.
])
def test_bad_configuration_is_one_clear_line(tiny, tmp_path, args, message):
  corpus_dir, _ = tiny
  proc = run_cli('experiments.train', f'--corpus_dir={corpus_dir}',
                 f'--workdir={tmp_path}/w', f'--prepared_cache_dir={tmp_path}/p',
                 *TINY_FLAGS, *args, check=False)
  assert proc.returncode == 1
  errors = [l for l in proc.stderr.splitlines() if l.startswith('error:')]
  assert len(errors) == 1 and message in errors[0], proc.stderr[-2000:]
  assert 'Traceback' not in proc.stderr


def position_majority_f1(data_dir: str, split: str) -> float:
  """The paper's Majority Vote baseline: each position's majority training label."""
  data = input_pipeline.PreparedDataset(data_dir, 'text', seed=0, num_buckets=2)
  train, target = data.record_info('train'), data.record_info(split)
  votes = collections.defaultdict(list)
  for pos, label in zip(train['position_id'], train['label']):
    votes[pos].append(label)
  overall = float(np.mean(train['label']) >= 0.5)
  scores = [float(np.mean(votes[p]) >= 0.5) if p in votes else overall
            for p in target['position_id']]
  return metrics_lib.classification_metrics(target['label'], scores)['f1']


def test_hirenet_beats_the_position_majority_vote(tmp_path):
  """Fails if the model learns nothing: with an exact cue (the order of two phrases in the
  key answers of each job family) HireNet must clearly beat the paper's Majority Vote."""
  _, data_dir = tiny_data('cue', num_candidates=600, cue_strength=1.0, label_noise=0.0)
  config = tiny_config(data_dir, **{
      'num_epochs': 15, 'batch_size': 16, 'learning_rate': 5e-3,
      'model.hidden_size': 16, 'model.context_size': 16, 'model.attention_size': 16,
      'model.train_embeddings': 'true', 'log_every_steps': 1000, 'tensorboard': False})
  results = train_lib.train_and_evaluate(config, str(tmp_path / 'cue'))
  majority = position_majority_f1(data_dir, 'test')
  assert results['test']['f1'] > majority + 0.15, (results['test'], majority)
  assert results['test']['roc_auc'] > 0.85, results['test']


def test_grid_writes_table3_and_reads_finished_runs_back(tiny, tmp_path):
  _, data_dir = tiny
  root = tmp_path / 'grid'
  args = ['--modalities=text', '--variants=hn_avg,hirenet', '--seeds=1',
          f'--workdir={root}', f'--data_dir={data_dir}', *TINY_FLAGS,
          '--config.num_epochs=1']
  run_cli('experiments.grid', *args)
  table = (root / 'table3.md').read_text()
  assert '| HN AVG |' in table and '| HireNet |' in table and 'Text F1' in table
  for variant in ('hn_avg', 'hirenet'):
    assert (root / f'text_{variant}_s0' / 'results.json').exists()
  stamp = (root / 'text_hirenet_s0' / 'results.json').stat().st_mtime_ns
  proc = run_cli('experiments.grid', *args)  # Everything finished: nothing retrained.
  assert (root / 'text_hirenet_s0' / 'results.json').stat().st_mtime_ns == stamp
  assert (root / 'table3.md').read_text() == table
  # experiments.report reads the grid's runs into the paper's layout.
  report = subprocess.run([sys.executable, '-m', 'experiments.report', f'--workdir={root}'],
                          cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=120)
  assert report.returncode == 0, report.stderr[-2000:]
  assert '| HireNet |' in (root / 'report' / 'table3.md').read_text()
