"""What every entry point shares: the cache flags, start-up (terminal, host allocator,
compilation cache, multi-host), one-line user errors, and wiring data_prep to the library.
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from absl import app
from absl import flags
from absl import logging

from hirenet_jax.core import paths

CONFIGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs')

JAX_CACHE_DIR = flags.DEFINE_string(
    'jax_cache_dir', os.path.join(paths.cache_root(), 'xla'),
    'Persistent XLA compilation cache ("" = off): repeated runs skip compilation.')
PREPARED_CACHE_DIR = flags.DEFINE_string(
    'prepared_cache_dir', os.path.join(paths.cache_root(), 'datasets'),
    'Where datasets built from --corpus_dir (or the default corpus) are cached.')


def define_config_flag(name: str = 'default.py'):
  """`--config`: a ConfigDict file, by default one of ours found wherever the package is
  installed (so the commands run from any directory), locked against typos."""
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  return config_flags.DEFINE_config_file(
      'config', os.path.join(CONFIGS_DIR, name),
      'Configuration file (experiments/configs/*.py); override fields with '
      '--config.field=value.', lock_config=True)


class CommandError(Exception):
  """A one-line error for the user (bad flags, corpus or dataset)."""


def user_errors() -> tuple[type[BaseException], ...]:
  """Exceptions whose message is meant for the user: printed on one line, exit 1."""
  from data_prep.hirenet.datasets import PrepareError  # pylint: disable=g-import-not-at-top
  from data_prep.errors import CorpusError  # pylint: disable=g-import-not-at-top
  from hirenet_jax.core.errors import ConfigError  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.openai_client import ServedModelError  # pylint: disable=g-import-not-at-top
  return (CommandError, ConfigError, CorpusError, PrepareError, FileNotFoundError,
          ServedModelError)


def setup_jax(cache_dir: str, multihost: bool = False, coordinator: str | None = None,
              num_processes: int | None = None, process_id: int | None = None) -> None:
  """Host allocator, compilation cache and, for multi-host runs, jax.distributed.initialize.

  The allocator setting (hirenet_jax/core/host_memory.py) stops XLA:CPU from page-faulting
  its buffers every step; it is skipped when the environment sets HIRENET_SYSTEM_MALLOC=1.
  """
  from hirenet_jax.core import host_memory  # pylint: disable=g-import-not-at-top
  if host_memory.opted_out():
    logging.info('Host allocator: glibc defaults (%s is set).', host_memory.OPT_OUT_ENV)
  elif host_memory.keep_freed_memory():
    logging.info('Host allocator: %s.', host_memory.describe())
  import jax  # pylint: disable=g-import-not-at-top
  from hirenet_jax.core import run_log  # pylint: disable=g-import-not-at-top
  run_log.quiet_third_party_logs()
  if cache_dir:
    jax.config.update('jax_compilation_cache_dir', cache_dir)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.5)
  if multihost:
    from hirenet_jax.core import sharding  # pylint: disable=g-import-not-at-top
    sharding.initialize_multihost(coordinator, num_processes, process_id)


def entry_point(main: Callable[[], None], *,
                extra_errors: tuple[type[BaseException], ...] = (),
                **setup_kwargs) -> Callable[[list[str]], None]:
  """Wraps an entry point's `main()` for `app.run`: refuses stray arguments, sets up the
  terminal and JAX, and turns user errors into one `error: ...` line and exit status 1.

  `extra_errors` are further exceptions reported that way (e.g. ValueError where the
  command's data checks raise it); `setup_kwargs` go to `setup_jax` (multi-host flags),
  evaluated after flag parsing when given as callables.
  """
  def run(argv: list[str]) -> None:
    if len(argv) > 1:
      raise app.UsageError(f'unexpected arguments: {argv[1:]}')
    from hirenet_jax.core import run_log  # pylint: disable=g-import-not-at-top
    if hasattr(run_log, 'configure_terminal'):
      run_log.configure_terminal(flags.FLAGS.verbosity)
    kwargs = {k: v() if callable(v) else v for k, v in setup_kwargs.items()}
    setup_jax(JAX_CACHE_DIR.value, **kwargs)
    try:
      main()
    except user_errors() + extra_errors as e:
      print(f'error: {e}', file=sys.stderr)
      sys.exit(1)
  return run


def apply_shorthands(config, *, modality=None, variant=None, seed=None, corpus_dir=None,
                     data_dir=None, **build_options) -> None:
  """Copies the shorthand flags that were given into the (locked) config; `build_options`
  are config fields of the same names (embeddings, on_error, decision words, ...)."""
  for name, value in build_options.items():
    if value is None:
      continue
    if isinstance(value, (list, tuple)):
      value = ','.join(value)
    config[name] = value
  if modality is not None:
    config.modality = modality
  if variant is not None:
    config.model.variant = variant
  if seed is not None:
    config.seed = seed
  if corpus_dir is not None:
    config.corpus_dir = corpus_dir
  if data_dir is not None:
    config.data_dir = data_dir


def prepare_data(config) -> str:
  """The prepared dataset of `config` (checked first), built into the cache if needed."""
  from data_prep.hirenet import datasets  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import steps  # pylint: disable=g-import-not-at-top
  steps.check_config(config)
  return datasets.prepare(config, PREPARED_CACHE_DIR.value)


def data_report(data_dir: str, modality: str) -> str:
  """The prepared dataset's exclusions as data_prep.build prints them ('' when it excluded
  nothing and kept no manifest): the counts line and where the manifest is."""
  from data_prep.hirenet import build  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import input_pipeline  # pylint: disable=g-import-not-at-top
  meta = input_pipeline.load_meta(data_dir, modality)
  counts = meta.get('counts') or {}
  if not (meta.get('manifest') or counts.get('candidates_excluded')
          or counts.get('answers_excluded')):
    return ''
  lines = [build.format_counts(meta)]
  if meta.get('manifest'):
    lines.append(f'Exclusions listed in {meta["manifest"]}')
  return '\n'.join(lines)


def representation_line(data_dir: str, modality: str) -> str:
  """'Text representation: ...' of a prepared text dataset ('' for audio and video)."""
  from hirenet_jax.hirenet import dataset_spec  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import input_pipeline  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import train_lib  # pylint: disable=g-import-not-at-top
  if not dataset_spec.modality(modality).words:
    return ''
  meta = input_pipeline.load_meta(data_dir, modality)
  return f'Text representation: {train_lib.describe_representation(meta)}'


def write_results(path: str, results) -> str:
  """Writes a command's results as indented JSON (keys in their order) atomically, making
  the folder first; returns `path`."""
  from hirenet_jax.core import run_log  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  run_log.write_json(path, results, sort_keys=False)
  return path


def default_workdir(config) -> str:
  return os.path.join('workdirs', f'{config.modality}_{config.model.variant}_s{config.seed}')


def format_results(results: dict) -> str:
  """Validation and test precision / recall / F1 of the hirable class, then the test
  rows of the baselines fitted beside the run (results['baselines'])."""
  def row(name, m):
    auc = 'n/a' if m.get('roc_auc') is None else f'{m["roc_auc"]:.3f}'
    return (f'{name:<32} {m["precision"]:>9.3f} {m["recall"]:>7.3f} {m["f1"]:>7.3f} '
            f'{m["accuracy"]:>8.3f} {auc:>7}')

  lines = [f'{"split":<32} {"precision":>9} {"recall":>7} {"f1":>7} {"accuracy":>8} '
           f'{"roc_auc":>7}']
  lines += [row(split, results[split]) for split in ('validation', 'test')]
  for name, baseline in results.get('baselines', {}).items():
    lines.append(row(f'test: {baseline.get("name", name)}', baseline['test']))
  return '\n'.join(lines)


def score_corpus(workdir: str, corpus_dir: str | None, scratch: str):
  """A run's selected checkpoint applied to a corpus (default: the run's own), featurised
  like its training data: (config, meta, rows) as `scoring.score_dataset` returns them."""
  from data_prep.hirenet import datasets  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import scoring  # pylint: disable=g-import-not-at-top
  config = scoring.load_run_config(workdir)
  data_dir, splits = datasets.featurize_for_run(config, corpus_dir, scratch)
  return scoring.score_dataset(workdir, data_dir, splits, config)


def run_report(config, results: dict, workdir: str) -> str:
  """The lines printed at the end of a run: header, table, warnings, files."""
  from hirenet_jax.hirenet import train_lib  # pylint: disable=g-import-not-at-top
  lines = [f'{config.modality} / {config.model.variant} / seed {config.seed} '
           f'(best epoch {results["best_epoch"]} on validation {results["selection_metric"]}, '
           f'threshold {results["threshold"]:.3f})',
           format_results(results)]
  lines += [f'WARNING: {w}' for w in results.get('warnings', [])]
  files = ', '.join(os.path.join(workdir, f) for f in (
      train_lib.RESULTS_FILE, train_lib.PREDICTIONS_FILE, train_lib.CURVES_FILE))
  lines.append(f'wrote {files}')
  return '\n'.join(lines)
