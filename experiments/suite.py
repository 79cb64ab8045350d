r"""Trains the neural variants on every corpus of the robustness suite, beside the simple
baselines, and writes one table (docs/robustness.md shows it).

  python -m experiments.suite --workdir=W [--corpora=a_default,...] \
      [--variants=bigru,hn_avg,hn_satt,hirenet] [--seeds=3] [--config.X=...]

The corpora come from `data_prep.hirenet.corpus_suite` (generated once and cached). Each run
lives in W/{corpus}/{variant}_s{seed} (a finished run is read back, an interrupted one
resumes). TF-IDF + logistic regression and the position-majority vote are fitted once per
corpus on the same split. Writes W/suite.md, W/suite.csv and W/suite_results.json: test
ROC AUC and F1 (mean ± std over seeds), the runs whose test predictions are a single
class, and each corpus's gap between HireNet and TF-IDF.
"""

from __future__ import annotations

from absl import app
from absl import flags

from experiments import common

_CONFIG = common.define_config_flag()
_CORPORA = flags.DEFINE_list('corpora', None, 'Suite corpora (default: all).')
_VARIANTS = flags.DEFINE_list('variants', ['bigru', 'hn_avg', 'hn_satt', 'hirenet'],
                              'Neural variants.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0 .. seeds-1 per variant.', lower_bound=1)
_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/suite', 'Suite directory.')


def main():
  from data_prep.hirenet import corpus_suite  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import robustness  # pylint: disable=g-import-not-at-top
  names = _CORPORA.value or list(corpus_suite.SUITE_NAMES)
  unknown = sorted(set(names) - set(corpus_suite.SUITE_NAMES))
  if unknown:
    raise common.CommandError(f'unknown suite corpora {unknown}; expected some of '
                              f'{list(corpus_suite.SUITE_NAMES)}')
  corpora = {name: corpus_suite.ensure_suite_corpus(name) for name in names}
  out = robustness.run_suite(_CONFIG.value, _WORKDIR.value, corpora=corpora,
                             specs=corpus_suite.SUITE, variants=_VARIANTS.value,
                             num_seeds=_SEEDS.value, prepare=common.prepare_data)
  print(out['markdown'])
  print(f'wrote {_WORKDIR.value}/suite.md, suite.csv and suite_results.json '
        f'({len(out["runs"])} runs)')


if __name__ == '__main__':
  app.run(common.entry_point(main))
