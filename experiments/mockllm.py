r"""MockLLM (paper: Table 2, Table 3, Figure 5): mock interviews played by a language
model, two-sided evaluation, handshake and reflection memory, over a person-job-fit corpus.

  python -m experiments.mockllm [--corpus_dir=DIR] [--backend=scripted|jax|openai] \
      [--base_url=http://host:8000/v1 --model=NAME] [--gguf=PATH] \
      [--weight_dtype=float32|bfloat16] [--seeds=0,1,2] \
      [--workdir=W] [--pjf_grid_dir=G] [--config.num_turns=3 ...]

With no --corpus_dir the default synthetic corpus is used (generated once and cached).
Writes W/table2.md/.csv, W/table3.md/.csv, W/figure5.png, W/results.json, and per seed
W/seed_S/runs/*/interviews.jsonl and memory/, W/seed_S/variants/*/decisions.csv, HTML
transcripts and the interviews as a HireNet corpus (W/seed_S/hirenet_corpus). Every
table names the backend and model. A killed run restarted with the same command resumes.
"""

from __future__ import annotations

import csv
import json
import os

from absl import app
from absl import flags

from experiments import common

_CONFIG = common.define_config_flag('mockllm.py')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None,
                                  'Person-job-fit corpus (docs/pjf_format.md).')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Output directory; default '
                               'workdirs/mockllm_{backend}.')
_SEEDS = flags.DEFINE_list('seeds', ['0'], 'Seeds; tables give mean ± std over them.')
_BACKEND = flags.DEFINE_enum('backend', 'scripted', ['scripted', 'jax', 'openai'],
                             'Who plays the roles: the scripted role-player (no model), the '
                             'embedded JAX runtime, or a served model.')
_GGUF = flags.DEFINE_string('gguf', None, '--backend=jax: a Llama-family GGUF file '
                            '(default: the embedded SmolLM2-135M-Instruct).')
_WEIGHT_DTYPE = flags.DEFINE_enum('weight_dtype', None, ['float32', 'bfloat16'],
                                  '--backend=jax: weights of the matrix products; default: '
                                  'bfloat16, float32 on a CPU without bf16 dot products.')
_BASE_URL = flags.DEFINE_string('base_url', None,
                                '--backend=openai: e.g. http://localhost:8000/v1.')
_MODEL = flags.DEFINE_string('model', None, '--backend=openai: the served model name.')
_SERVER = flags.DEFINE_enum('server', 'vllm', ['vllm', 'llamacpp', 'ollama', 'openai'],
                            '--backend=openai: how the server spells its parameters.')
_API_KEY = flags.DEFINE_string('api_key', None, '--backend=openai: bearer token.')
_MAX_CONCURRENCY = flags.DEFINE_integer('max_concurrency', 16,
                                        '--backend=openai: requests in flight.')
_TIMEOUT = flags.DEFINE_float('timeout_s', 120.0, '--backend=openai: per request.')
_LLM_CACHE = flags.DEFINE_string('llm_cache', None, 'Response cache (JSONL); default '
                                 'W/llm_cache.jsonl. Replays a finished run.')
_PJF_GRID_DIR = flags.DEFINE_string('pjf_grid_dir', None, 'An experiments.pjf_grid '
                                    'workdir whose table2 rows join ours.')
_PJF_SCORES = flags.DEFINE_string('pjf_scores', None, 'scores.csv of an experiments.pjf run '
                                  'on the same corpus: its scores become S_r and S_j of the '
                                  '"learned scorers" row.')


def hirenet_scores(interviews, corpus, seed_dir: str, seed: int, epochs: int):
  """S_q and S_a from HireNet trained on the generated interviews of the training pairs
  (questions and answers as its answers, the job title as its context; one model per
  side), with the question attention of the interviewer's model per pair."""
  from experiments.configs import default  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import train_lib  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import experiment  # pylint: disable=g-import-not-at-top
  scores, attention = {}, {}
  for key, label in (('s_q', 'job_accepts'), ('s_a', 'candidate_accepts')):
    corpus_dir = os.path.join(seed_dir, f'hirenet_{label}')
    experiment.export_hirenet_corpus(interviews, corpus, corpus_dir, label=label)
    config = default.get_config()
    config.modality, config.split, config.seed = 'text', 'given', seed
    config.corpus_dir, config.num_epochs = corpus_dir, epochs
    config.data_dir = common.prepare_data(config)
    run_dir = os.path.join(seed_dir, f'hirenet_{label}_run')
    train_lib.train_and_evaluate(config, run_dir)
    _, _, rows = common.score_corpus(run_dir, None, os.path.join(seed_dir, 'scratch'))
    table = {}
    for row in rows:
      cid, jid = row['candidate_id'].split('__', 1)
      table[(cid, jid)] = float(row['score'])
      if key == 's_q':
        attention[(cid, jid)] = row['question_attention']
    scores[key] = table
  return scores, attention


def main():
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  from data_prep.pjf import corpus as pjf_corpus  # pylint: disable=g-import-not-at-top
  from data_prep.pjf import synthetic as pjf_synthetic  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.api import SamplingParams  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import backends  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import experiment  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import loop  # pylint: disable=g-import-not-at-top

  config = _CONFIG.value
  corpus_dir = _CORPUS_DIR.value or pjf_synthetic.ensure_default_corpus()
  corpus, _ = pjf_corpus.read_corpus(corpus_dir)
  workdir = _WORKDIR.value or os.path.join('workdirs', f'mockllm_{_BACKEND.value}')
  options = backends.BackendOptions(
      backend=_BACKEND.value, gguf=_GGUF.value, base_url=_BASE_URL.value,
      model=_MODEL.value, server=_SERVER.value, api_key=_API_KEY.value,
      max_concurrency=_MAX_CONCURRENCY.value, timeout_s=_TIMEOUT.value,
      max_batch=config.chunk_size, weight_dtype=_WEIGHT_DTYPE.value)
  model = backends.make_model(
      options, _LLM_CACHE.value or os.path.join(workdir, 'llm_cache.jsonl'))
  label = model.name if _BACKEND.value != 'scripted' else 'scripted (no language model)'
  base = loop.LoopConfig(
      num_turns=config.num_turns, num_cases=config.num_cases, chunk_size=config.chunk_size,
      dialogue=SamplingParams(max_new_tokens=config.max_new_tokens,
                              temperature=config.temperature, top_p=config.top_p,
                              repetition_penalty=config.repetition_penalty, stop=('\n\n',)))
  variants = [v.strip() for v in config.variants.split(',') if v.strip()]
  bars = []

  def progress(desc, total):
    bar = tqdm(total=total, desc=desc, unit='pair', leave=False)
    bars.append(bar)
    return bar.update

  per_seed = []
  for seed in [int(s) for s in _SEEDS.value]:
    seeded = experiment.subsample(corpus, config.max_pairs, 0)  # The same pairs every seed.
    seed_dir = os.path.join(workdir, f'seed_{seed}')
    per_seed.append(experiment.run_seed(model, seeded, seed_dir, seed=seed,
                                        variants=variants, base=base, progress=progress))
    runner_dir = os.path.join(seed_dir, 'runs', 'mockllm')
    attention = {}
    if os.path.exists(os.path.join(runner_dir, loop.INTERVIEWS_FILE)):
      full = loop.MockInterviewer(model, seeded, base, runner_dir).interviews
      learned = {}
      if config.hirenet_scorer:
        learned, attention = hirenet_scores(full, seeded, seed_dir, seed,
                                            config.hirenet_epochs)
      if _PJF_SCORES.value:
        learned.update(experiment.read_pjf_scores(_PJF_SCORES.value, seeded.pairs))
      if learned:
        experiment.add_variant(per_seed[-1], 'learned', experiment.rescored(full, learned),
                               {(p.candidate_id, p.job_id): p for p in seeded.pairs},
                               seed_dir)
        per_seed[-1]['variants']['learned']['learned_scores'] = sorted(learned)
      with open(os.path.join(seed_dir, 'variants', 'mockllm', 'decisions.csv'),
                encoding='utf-8') as f:
        decisions = {(r['candidate_id'], r['job_id']): r for r in csv.DictReader(f)}
      experiment.write_transcripts([i for i in full if i.split == 'test'], seeded,
                                   os.path.join(seed_dir, 'transcripts'), label, decisions,
                                   limit=config.transcripts, attention=attention)
      experiment.export_hirenet_corpus(full, seeded, os.path.join(seed_dir, 'hirenet_corpus'))
  for bar in bars:
    bar.close()

  title = f'Table 2 (test pairs; roles played by {label}; seeds {",".join(_SEEDS.value)})'
  rows = experiment.table2(per_seed, experiment.subsample(corpus, config.max_pairs, 0),
                           experiment.read_baseline_rows(_PJF_GRID_DIR.value)
                           if _PJF_GRID_DIR.value else [])
  table = experiment.table_markdown(title, rows, experiment.TABLE2_COLUMNS)
  with open(os.path.join(workdir, 'table2.md'), 'w', encoding='utf-8') as f:
    f.write(table)
  experiment.table_csv(os.path.join(workdir, 'table2.csv'), rows, experiment.TABLE2_COLUMNS)
  rows3, columns3 = experiment.table3(per_seed)
  with open(os.path.join(workdir, 'table3.md'), 'w', encoding='utf-8') as f:
    f.write(experiment.table_markdown(f'Table 3 (test interviews; {label})', rows3,
                                      columns3))
  experiment.table_csv(os.path.join(workdir, 'table3.csv'), rows3, columns3)
  has_figure = experiment.figure5(per_seed, config.num_cases,
                                  os.path.join(workdir, 'figure5.png'), label)
  with open(os.path.join(workdir, 'results.json'), 'w', encoding='utf-8') as f:
    json.dump({'backend': _BACKEND.value, 'model': label, 'corpus_dir': corpus_dir,
               'seeds': [int(s) for s in _SEEDS.value], 'config': config.to_dict(),
               'per_seed': per_seed}, f, indent=1)
  print(table)
  print(f'wrote {workdir}/table2.md, table3.md'
        + (', figure5.png' if has_figure else '') + ' and results.json')


entry = common.entry_point(main)

if __name__ == '__main__':
  app.run(entry)
