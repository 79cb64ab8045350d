"""A killed language-model run of experiments.mockllm resumes to the same decisions.

The embedded model is too slow for a test on two cores, so the `jax` backend's engine is
replaced by a stand-in that answers like the scripted double, logs every request it is
asked, and SIGKILLs its own process after a given number of them: the command, its
response cache and the loop's progress files are the real ones. Run as a script, this
file is that command (argv: log path, kill after N requests or 0, then the flags).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from helpers import REPO
from helpers import XLA_CACHE
from helpers import cli_env
from mockllm_tiny import tiny_corpus

_FLAGS = ('--backend=jax', '--seeds=2', '--config.variants=mockllm,wo_mi,k0',
          '--config.chunk_size=8', '--config.transcripts=0')


class _KilledEngine:
  """The JaxLanguageModel constructor's signature over the scripted double's answers."""
  backend = 'jax'
  log_path, kill_after = '', 0

  def __init__(self, gguf=None, *, max_batch=32, weight_dtype=None,
               prefix_cache_bytes=4 * 2 ** 30):
    from hirenet_jax.mockllm import scripted  # pylint: disable=g-import-not-at-top
    del gguf, max_batch, weight_dtype, prefix_cache_bytes
    self.double = scripted.ScriptedModel()
    self.name = f'killed engine over {scripted.NAME}'
    self.asked = 0

  def _ask(self, kind, requests, answer):
    if self.kill_after and self.asked + len(requests) > self.kill_after:
      os.kill(os.getpid(), signal.SIGKILL)  # Mid-call: this call's answers are lost.
    out = answer(requests)
    self.asked += len(requests)
    with open(self.log_path, 'a', encoding='utf-8') as f:
      f.writelines(f'{kind}\n' for _ in requests)
    return out

  def chat(self, requests):
    return self._ask('chat', requests, self.double.chat)

  def score(self, requests):
    return self._ask('score', requests, self.double.score)


def _run(log_path: str, kill_after: int, corpus_dir: str, workdir: str):
  return subprocess.run(
      [sys.executable, os.path.abspath(__file__), log_path, str(kill_after),
       f'--corpus_dir={corpus_dir}', f'--workdir={workdir}', *_FLAGS,
       f'--jax_cache_dir={XLA_CACHE}'],
      cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=600)


def _asked(log_path: str) -> int:
  if not os.path.exists(log_path):
    return 0
  with open(log_path, encoding='utf-8') as f:
    return sum(1 for _ in f)


def _cached_keys(workdir: str) -> list[str]:
  with open(os.path.join(workdir, 'llm_cache.jsonl'), encoding='utf-8') as f:
    return [json.loads(line)['key'] for line in f if line.strip()]


def _outputs(workdir: str) -> dict[str, str]:
  """results.json and every decisions.csv, by path under the workdir; of each run's
  timing only its interview count (its seconds are wall-clock time)."""
  out = {}
  for root, _, files in os.walk(workdir):
    for name in files:
      if name in ('results.json', 'decisions.csv'):
        path = os.path.join(root, name)
        with open(path, encoding='utf-8') as f:
          text = f.read()
        if name == 'results.json' and root == workdir:
          results = json.loads(text)
          for seed in results['per_seed']:
            seed['timing'] = {run: t['interviews'] for run, t in seed['timing'].items()}
          text = json.dumps(results, sort_keys=True)
        out[os.path.relpath(path, workdir)] = text
  return out


def test_a_killed_language_model_run_resumes_to_the_same_decisions(tmp_path):
  corpus_dir = str(tmp_path / 'corpus')
  from data_prep.pjf import corpus as pjf_corpus  # pylint: disable=g-import-not-at-top
  pjf_corpus.write_corpus(tiny_corpus(), corpus_dir)
  whole, killed = str(tmp_path / 'whole'), str(tmp_path / 'killed')
  proc = _run(str(tmp_path / 'whole.log'), 0, corpus_dir, whole)
  assert proc.returncode == 0, proc.stderr[-3000:]
  total = _asked(str(tmp_path / 'whole.log'))
  assert total == len(set(_cached_keys(whole))) > 0  # Each distinct request asked once.

  # Killed twice, each time inside a call, a third of the way further on each time.
  logs = [str(tmp_path / f'{n}.log') for n in ('first', 'second', 'rerun')]
  cached = []
  for log in logs[:2]:
    proc = _run(log, total // 3, corpus_dir, killed)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert not os.path.exists(os.path.join(killed, 'results.json'))
    cached.append(len(set(_cached_keys(killed))))
  assert 0 < cached[0] < cached[1] < total
  proc = _run(logs[2], 0, corpus_dir, killed)
  assert proc.returncode == 0, proc.stderr[-3000:]
  # Each run asked the model only what the runs before it had not cached...
  assert [_asked(log) for log in logs] == [cached[0], cached[1] - cached[0],
                                           total - cached[1]]
  assert set(_cached_keys(killed)) == set(_cached_keys(whole))
  # ...and ends with the uninterrupted run's decisions and figures, byte for byte.
  outputs = _outputs(whole)
  assert sum(p.endswith('decisions.csv') for p in outputs) == 2 * 3
  assert _outputs(killed) == outputs


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  from experiments import mockllm  # pylint: disable=g-import-not-at-top
  _KilledEngine.log_path, _KilledEngine.kill_after = sys.argv[1], int(sys.argv[2])
  engine.JaxLanguageModel = _KilledEngine
  sys.argv = [sys.argv[0], *sys.argv[3:]]
  app.run(mockllm.entry)
