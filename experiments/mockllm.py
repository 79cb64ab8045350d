r"""MockLLM (paper: Table 2, Table 3, Figure 5): mock interviews played by a language
model, two-sided evaluation, handshake and reflection memory, over a person-job-fit corpus.

  python -m experiments.mockllm [--corpus_dir=DIR] [--backend=scripted|jax|openai] \
      [--base_url=http://host:8000/v1 --model=NAME] [--seeds=3] \
      [--workdir=W] [--pjf_grid_dir=G] [--config.num_turns=3 ...] \
      [--config.backend.gguf=PATH] [--config.backend.weight_dtype=float32|bfloat16]

Every setting is a field of experiments/configs/mockllm.py; the backend's are under
config.backend, with --backend, --base_url, --model and --server as shorthands.

With no --corpus_dir the default synthetic corpus is used (generated once and cached).
Writes W/table2.md/.csv (with the paired tests), W/table3.md/.csv, W/figure5.png,
W/results.json, and per seed W/seed_S/runs/*/interviews.jsonl and memory/,
W/seed_S/variants/*/decisions.csv, HTML transcripts (W/seed_S/transcripts/index.html)
and the interviews as a HireNet corpus (W/seed_S/hirenet_corpus). Every table names the
backend and model; the scripted test double's say that they are a test double's. A
served model's API key is read from $OPENAI_API_KEY or --config.backend.api_key_file. A
killed run restarted with the same command resumes.
"""

from __future__ import annotations

import contextlib
import os

from absl import app
from absl import flags

from experiments import common
from experiments import pjf_common

_CONFIG = common.define_config_flag('mockllm.py')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None,
                                  'Person-job-fit corpus (docs/pjf_format.md).')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Output directory; default '
                               'workdirs/mockllm_{backend}.')
_SEEDS = flags.DEFINE_integer('seeds', 1, 'Seeds 0..N-1; tables give mean ± std over them.',
                              lower_bound=1)
_BACKEND = flags.DEFINE_enum('backend', None, ['scripted', 'jax', 'openai'],
                             'Shorthand for --config.backend.name: who plays the roles.')
_BASE_URL = flags.DEFINE_string('base_url', None, 'Shorthand for --config.backend.base_url.')
_MODEL = flags.DEFINE_string('model', None, 'Shorthand for --config.backend.model.')
_SERVER = flags.DEFINE_enum('server', None, ['vllm', 'llamacpp', 'ollama', 'openai'],
                            'Shorthand for --config.backend.server.')
_LLM_CACHE = flags.DEFINE_string('llm_cache', None, 'Response cache (JSONL); default '
                                 'W/llm_cache.jsonl. Replays a finished run.')
_PJF_GRID_DIR = flags.DEFINE_string('pjf_grid_dir', None, 'An experiments.pjf_grid '
                                    'workdir whose table2 rows join ours.')
_PJF_SCORES = flags.DEFINE_string('pjf_scores', None, 'scores.csv of an experiments.pjf run '
                                  'on the same corpus: its scores become S_r and S_j of the '
                                  '"learned scorers" row.')


def hirenet_scores(interviews, corpus, seed_dir: str, seed: int, epochs: int,
                   reading: str = 'interview'):
  """S_q and S_a from HireNet trained on the training pairs (one model per side), with
  the question attention of the interviewer's model per pair. reading='interview': the
  generated questions and answers as its answers; 'documents': the resume's sentences,
  each asked by the job description (experiment.export_hirenet_corpus)."""
  from experiments.configs import default  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import train_lib  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import experiment  # pylint: disable=g-import-not-at-top
  scores, attention = {}, {}
  for key, label in (('s_q', 'job_accepts'), ('s_a', 'candidate_accepts')):
    suffix = '' if reading == 'interview' else f'_{reading}'
    corpus_dir = os.path.join(seed_dir, f'hirenet_{label}{suffix}')
    experiment.export_hirenet_corpus(interviews, corpus, corpus_dir, label=label,
                                     reading=reading)
    config = default.get_config()
    config.modality, config.split, config.seed = 'text', 'given', seed
    config.corpus_dir, config.num_epochs = corpus_dir, epochs
    config.data_dir = common.prepare_data(config)
    run_dir = os.path.join(seed_dir, f'hirenet_{label}{suffix}_run')
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


@contextlib.contextmanager
def _progress_bars():
  """experiment.run's `progress`: one tqdm bar per generation run, closed at the end."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top
  bars = []

  def progress(desc, total):
    bars.append(tqdm(total=total, desc=desc, unit='pair', leave=False))
    return bars[-1].update

  try:
    yield progress
  finally:
    for bar in bars:
      bar.close()


def main():
  from hirenet_jax.mockllm import experiment  # pylint: disable=g-import-not-at-top
  config = _CONFIG.value
  for holder, field in ((_BACKEND, 'name'), (_BASE_URL, 'base_url'), (_MODEL, 'model'),
                        (_SERVER, 'server')):
    if holder.value is not None:
      config.backend[field] = holder.value
  corpus = pjf_common.load_corpus(_CORPUS_DIR.value or '')
  workdir = _WORKDIR.value or os.path.join('workdirs', f'mockllm_{config.backend.name}')
  with _progress_bars() as progress:
    out = experiment.run(config, corpus, workdir, seeds=range(_SEEDS.value),
                         llm_cache=_LLM_CACHE.value, pjf_scores=_PJF_SCORES.value,
                         pjf_grid_dir=_PJF_GRID_DIR.value, hirenet_scores=hirenet_scores,
                         progress=progress)
  print(out['table2'])
  print(f'wrote {workdir}/table2.md, table3.md'
        + (', figure5.png' if out['figure5'] else '') + ' and results.json')


entry = common.entry_point(main)

if __name__ == '__main__':
  app.run(entry)
