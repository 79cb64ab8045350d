r"""Table 2's baseline rows: every model x seed, then mean ± std over seeds.

  python -m experiments.pjf_grid --models=ncf,pjfnn,bpjfnn,apjfnn,ipjf --seeds=3 \
      --workdir=W [--corpus_dir=DIR] [--config=experiments/configs/pjf.py ...]

Runs W/{model}_s{seed} (seeds 0..N-1) one after the other in this process, skipping runs
that already have results.json and resuming interrupted ones; then writes
W/table2_baselines.md and .csv (test split: both sides' NDCG@5 / R@5 / P@5 / MRR@5 and
the handshake's macro precision / recall / F1, plus the exact random-ranking row).
"""

from __future__ import annotations

from absl import app
from absl import flags

from experiments import common
from experiments import pjf_common

_CONFIG = common.define_config_flag('pjf.py')
_MODELS = flags.DEFINE_list('models', 'ncf,pjfnn,bpjfnn,apjfnn,ipjf', 'Models to run.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0..N-1 per model.', lower_bound=1)
_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/pjf_grid', 'Grid directory.')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None,
                                  'pjf corpus; default: the synthetic one.')


def main():
  from hirenet_jax.pjf import grid  # pylint: disable=g-import-not-at-top
  config = _CONFIG.value
  common.apply_shorthands(config, corpus_dir=_CORPUS_DIR.value)
  corpus = pjf_common.load_corpus(config.corpus_dir)
  out = grid.run_grid(config, corpus, _WORKDIR.value, models=_MODELS.value,
                      num_seeds=_SEEDS.value)
  print(f'Table 2 baselines on {corpus.source} (test split, mean ± std over '
        f'{_SEEDS.value} seeds)\n{out["markdown"]}')
  print(f'wrote {" and ".join(out["files"])}')


if __name__ == '__main__':
  app.run(common.entry_point(main))
