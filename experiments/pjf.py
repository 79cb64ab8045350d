r"""Trains and evaluates one person-job-fit baseline (MockLLM paper, Table 2, one row).

  python -m experiments.pjf --model=apjfnn [--corpus_dir=DIR] [--workdir=W] [--seed=S] \
      [--config=experiments/configs/pjf.py] [--config.num_epochs=10 ...]

Without --corpus_dir the default synthetic corpus (data_prep.pjf.synthetic) is used,
generated once and cached. One-sided models train once per side (job, candidate), IPJF
once on both. A killed run restarted with the same workdir resumes from its latest
checkpoints. Writes W/scores.csv (both sides' scores per pair) and W/results.json, and
prints both sides' ranking metrics and the handshake's macro P/R/F1.
"""

from __future__ import annotations

import os

from absl import app
from absl import flags

from experiments import common
from experiments import pjf_common

_CONFIG = common.define_config_flag('pjf.py')
_MODEL = flags.DEFINE_string('model', None,
                             'ncf | pjfnn | bpjfnn | apjfnn | ipjf (--config.model.name).')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None,
                                  'pjf corpus (docs/pjf_format.md); default: the synthetic one.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory; default workdirs/pjf_{model}_s{seed}.')
_SEED = flags.DEFINE_integer('seed', None, 'Shorthand for --config.seed.')


def main():
  from hirenet_jax.pjf import train_lib  # pylint: disable=g-import-not-at-top
  config = _CONFIG.value
  if _MODEL.value is not None:
    config.model.name = _MODEL.value
  common.apply_shorthands(config, seed=_SEED.value, corpus_dir=_CORPUS_DIR.value)
  train_lib.check_config(config)
  corpus = pjf_common.load_corpus(config.corpus_dir)
  workdir = _WORKDIR.value or os.path.join('workdirs',
                                           f'pjf_{config.model.name}_s{config.seed}')
  results = train_lib.train_and_evaluate(config, corpus, workdir)
  print(f'{config.model.name} / seed {config.seed} on {corpus.source or config.corpus_dir} '
        f'({results["train_time_s"]:.0f}s; thresholds job {results["thresholds"]["job"]:.3f}'
        f', candidate {results["thresholds"]["candidate"]:.3f})')
  print(pjf_common.format_results(results))
  print(f'wrote {os.path.join(workdir, train_lib.RESULTS_FILE)} and '
        f'{os.path.join(workdir, train_lib.SCORES_FILE)}')


if __name__ == '__main__':
  app.run(common.entry_point(main))
