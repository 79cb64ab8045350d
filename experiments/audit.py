r"""Bias audit of finished runs (docs/fairness.md).

  python -m experiments.audit --workdir=W [--attributes=gender,age_band] \
      [--num_bootstrap=1000] [--seed=0] [--split=test] [--probe] [--corpus_dir=C]

Audits every run under W: a HireNet run (predictions.csv: its test candidates, selected
at the run's threshold) and each MockLLM variant (decisions.csv: each side's decision
and the handshake). Per group and intersection of the `attr_` columns: n, base rate,
selection rate, impact ratio against the most selected group (four-fifths flag), TPR and
FPR gaps, ROC AUC, ECE and Brier, each with a bootstrap interval; writes audit.md,
audit.json and audit.png beside each file read. `--probe` adds HireNet's counterfactual
probe (gendered forms of the transcripts swapped, the run's checkpoint rescoring them)
to the HireNet run's audit.json and audit.md. `--corpus_dir` audits a corpus's own
decisions as selections (the data's impact ratio, all candidates) into W/corpus_audit.
"""

from __future__ import annotations

import csv
import os
import tempfile

from absl import app
from absl import flags

from experiments import common

_WORKDIR = flags.DEFINE_string('workdir', None, 'A run, or a directory of runs.',
                               required=True)
_ATTRIBUTES = flags.DEFINE_list('attributes', None, 'Attributes to audit (default: every '
                                'attr_ column); their intersections are audited too.')
_NUM_BOOTSTRAP = flags.DEFINE_integer('num_bootstrap', 1000, 'Bootstrap resamples.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the bootstrap.')
_SPLIT = flags.DEFINE_enum('split', 'test', ['validation', 'test'], 'Split audited.')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, "Also audit a corpus's own decisions "
                                  '(every candidate or pair) into --workdir/corpus_audit.')
_PROBE = flags.DEFINE_bool('probe', False, 'HireNet runs: the counterfactual probe of '
                           'gendered forms (rescores the split with the checkpoint).')


def _hirenet_probe(run_dir: str) -> dict:
  """The counterfactual probe of one HireNet run, with its own corpus and checkpoint."""
  from data_prep.hirenet import text as text_lib  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import input_pipeline  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import scoring  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet.analysis import counterfactual  # pylint: disable=g-import-not-at-top
  config = scoring.load_run_config(run_dir)
  corpus_dir = input_pipeline.load_meta(config.data_dir, config.modality).get('corpus_dir')
  ids = [row['candidate_id'] for row in _rows(run_dir)]
  with tempfile.TemporaryDirectory() as scratch:
    def score(folder):
      return common.score_corpus(run_dir, folder, os.path.join(scratch, 'features',
                                                               os.path.basename(folder)))[2]
    return counterfactual.probe(corpus_dir, ids, score, text_lib.tokenize, scratch,
                                num_bootstrap=_NUM_BOOTSTRAP.value, seed=_SEED.value)


def _rows(run_dir: str) -> list[dict]:
  with open(os.path.join(run_dir, 'predictions.csv'), newline='', encoding='utf-8') as f:
    return [r for r in csv.DictReader(f) if r['split'] == _SPLIT.value]


def main():
  from hirenet_jax.core import bias_audit  # pylint: disable=g-import-not-at-top
  if _CORPUS_DIR.value:
    report = bias_audit.audit_corpus(
        _CORPUS_DIR.value, os.path.join(_WORKDIR.value, 'corpus_audit'),
        attributes=_ATTRIBUTES.value, num_bootstrap=_NUM_BOOTSTRAP.value, seed=_SEED.value)
    print(bias_audit.summary(report))
  runs = [r for r in bias_audit.find_runs(_WORKDIR.value)
          if os.path.basename(r) != 'corpus_audit']
  if not runs and not _CORPUS_DIR.value:
    raise ValueError(f'{_WORKDIR.value}: no predictions.csv or decisions.csv with a '
                     'results.json beside it')
  for run_dir in runs:
    report = bias_audit.audit_run(run_dir, attributes=_ATTRIBUTES.value,
                                  num_bootstrap=_NUM_BOOTSTRAP.value, seed=_SEED.value,
                                  split=_SPLIT.value)
    if _PROBE.value and 'hirable' in report['audits']:
      report['probe'] = _hirenet_probe(run_dir)
      bias_audit.write(run_dir, report)
    print(bias_audit.summary(report))


if __name__ == '__main__':
  app.run(common.entry_point(main, extra_errors=(ValueError,)))
