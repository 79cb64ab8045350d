"""Helpers shared by the training tests: tiny synthetic corpora built once per machine,
running the commands as a user would, and reading back checkpoints and metrics."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile

import jax
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRATCH = os.path.join(tempfile.gettempdir(), f'hirenet_train_tests_{os.getuid()}')
XLA_CACHE = os.path.join(SCRATCH, 'xla_cache')
# Tiny model on a tiny corpus: a run takes seconds. The one test configuration, on the
# command line (TINY_FLAGS) and in the process (tiny_config).
TINY_FLAGS = ['--config=experiments/configs/test.py']

# Compiled programs are shared by every test and subprocess of the session.
jax.config.update('jax_compilation_cache_dir', XLA_CACHE)
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.5)


def tiny_data(name: str = 'tiny', *, num_candidates: int = 40, **corpus_kwargs
              ) -> tuple[str, str]:
  """(corpus_dir, data_dir) of a text-only synthetic corpus, built once per machine."""
  from data_prep.hirenet import build
  from data_prep.hirenet import synthetic
  os.makedirs(SCRATCH, exist_ok=True)
  corpus_dir = os.path.join(SCRATCH, f'{name}_corpus')
  data_dir = os.path.join(SCRATCH, f'{name}_data')
  kwargs = dict(num_candidates=num_candidates, seed=1, modalities=('text',),
                words_per_answer=12, seconds_per_answer=3, workers=1)
  kwargs.update(corpus_kwargs)
  with open(os.path.join(SCRATCH, f'{name}.lock'), 'a') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers build it once.
    synthetic.generate_corpus(corpus_dir, **kwargs)
    try:
      build.build_dataset(corpus_dir, 'text', data_dir, workers=1)
    except FileExistsError:  # Built by an older generator or build: rebuild.
      build.build_dataset(corpus_dir, 'text', data_dir, workers=1, overwrite=True)
  return corpus_dir, data_dir


def cli_env(num_devices: int = 1) -> dict:
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  flags = env.get('XLA_FLAGS', '').replace('--xla_force_host_platform_device_count', '--x')
  env['XLA_FLAGS'] = f'{flags} --xla_force_host_platform_device_count={num_devices}'.strip()
  return env


def cli_command(module: str, *args: str) -> list[str]:
  return [sys.executable, '-m', module, *args, f'--jax_cache_dir={XLA_CACHE}']


def run_cli(module: str, *args: str, num_devices: int = 1, check: bool = True
            ) -> subprocess.CompletedProcess:
  """Runs `python -m module args` in the repository like a user would."""
  proc = subprocess.run(cli_command(module, *args), cwd=REPO, env=cli_env(num_devices),
                        capture_output=True, text=True, timeout=300)
  if check and proc.returncode != 0:
    raise AssertionError(f'{module} failed ({proc.returncode}):\n{proc.stderr[-4000:]}')
  return proc


def run_python_json(script: str, timeout: int = 600):
  """Runs `python -c script` in the repository on CPU with the script's own XLA_FLAGS (it
  sets them before importing jax) and returns the JSON object its last line prints."""
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  env.pop('XLA_FLAGS', None)
  out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                       env=env, timeout=timeout, check=True, cwd=REPO)
  return json.loads(out.stdout.strip().splitlines()[-1])


def tiny_flags(**overrides) -> list[str]:
  """The command-line form of `tiny_config(data_dir, **overrides)`."""
  return TINY_FLAGS + [f'--config.{key}={value}' for key, value in overrides.items()]


def tiny_config(data_dir: str, **overrides):
  """experiments/configs/test.py on `data_dir` with dotted-key overrides."""
  from experiments.configs import test as test_config
  config = test_config.get_config()
  config.data_dir = data_dir
  for key, value in overrides.items():
    target = config
    *path, last = key.split('.')
    for p in path:
      target = target[p]
    target[last] = value
  return config


def load_final_params(workdir: str) -> dict:
  """Parameters of the latest checkpoint, as numpy arrays."""
  import orbax.checkpoint as ocp
  ckpt_dir = os.path.join(workdir, 'checkpoints')
  step = max(int(s) for s in os.listdir(ckpt_dir) if s.isdigit())
  path = os.path.join(ckpt_dir, str(step), 'state')
  with ocp.PyTreeCheckpointer() as ckptr:
    structure = ckptr.metadata(path).item_metadata.tree
    as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), structure)
    tree = ckptr.restore(path, args=ocp.args.PyTreeRestore(restore_args=as_numpy))
  return jax.tree.map(np.asarray, tree['params'])


def train_losses(workdir: str) -> list[float]:
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    rows = [json.loads(line) for line in f]
  by_step = {r['step']: r['loss'] for r in rows if r['split'] == 'train'}
  return [by_step[s] for s in sorted(by_step)]
