r"""Bias audit of finished runs (docs/fairness.md).

  python -m experiments.audit --workdir=W [--attributes=gender,age_band] \
      [--num_bootstrap=1000] [--seed=0] [--split=test] [--probe] [--corpus_dir=C] \
      [--threshold=run|rate|0.5] [--score_corpus=C2]

Audits every run under W: a HireNet run (predictions.csv: its test candidates, selected
at the run's threshold) and each MockLLM variant (decisions.csv: each side's decision
and the handshake). Per group and intersection of the `attr_` columns: n, base rate,
selection rate, impact ratio against the most selected group (four-fifths flag), TPR and
FPR gaps, ROC AUC, ECE and Brier, each with a bootstrap interval; writes audit.md,
audit.json and audit.png beside each file read. `--probe` adds the counterfactual probe
to audit.json and audit.md: for a HireNet run, gendered forms and first names of the
transcripts swapped, the run's checkpoint rescoring them; for each seed of a MockLLM
experiment (its full system, variants/mockllm: every variant asks the same judges), the
test pairs' resumes and dialogues with first names and pronouns swapped, judged again by
the experiment's backend through its response cache. `--corpus_dir` audits a corpus's
own decisions as selections (the data's impact ratio, all candidates) into
W/corpus_audit. `--threshold=rate` selects, instead of the run's threshold, as many as
the audited rows have positive labels (into audit_threshold_rate/ beside the run's own
audit). `--score_corpus` scores every candidate of another labelled corpus with each
HireNet run's checkpoint and audits those selections too (a sample far larger than the
test split; into the run's audit_on_<corpus folder>/).
"""

from __future__ import annotations

import csv
import json
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
_PROBE = flags.DEFINE_bool('probe', False, 'The counterfactual probe: HireNet runs rescore '
                           'the split with gendered forms swapped; MockLLM experiments '
                           'judge the split\'s pairs again with names swapped.')
_THRESHOLD = flags.DEFINE_string('threshold', 'run', "Selection threshold: 'run' (the "
                                 "run's own), 'rate' (selects the audited rows' base rate) "
                                 'or a number; other than run, the audit goes to '
                                 'audit_threshold_<value>/ in the run.')
_SCORE_CORPUS = flags.DEFINE_string('score_corpus', None, 'HireNet runs: also score every '
                                    'candidate of this labelled corpus with the run\'s '
                                    'checkpoint and audit those selections (into the '
                                    "run's audit_on_<folder name>/).")


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


def _mockllm_probe(run_dir: str) -> dict | None:
  """MockLLM's counterfactual probe for the full system's variant of one seed
  (W/seed_S/variants/mockllm): its interviews of the split, judged again by the
  experiment's backend (W/results.json) with the resumes' names and pronouns swapped.
  None for the other variants."""
  from experiments import pjf_common  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import backends  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import counterfactual  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import experiment  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import loop  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  variants = os.path.dirname(run_dir)
  seed_dir = os.path.dirname(variants)
  root = os.path.dirname(seed_dir)
  interviews = os.path.join(seed_dir, 'runs', 'mockllm', loop.INTERVIEWS_FILE)
  if (os.path.basename(run_dir) != 'mockllm' or os.path.basename(variants) != 'variants'
      or not os.path.exists(interviews) or not os.path.exists(os.path.join(root,
                                                                          'results.json'))):
    return None
  with open(os.path.join(root, 'results.json'), encoding='utf-8') as f:
    results = json.load(f)
  config = ml_collections.ConfigDict(results['config'])
  config.backend.api_key = ''  # results.json keeps no key: $OPENAI_API_KEY or its file.
  model = backends.make_model(experiment.backend_options(config),
                              os.path.join(root, 'llm_cache.jsonl'))
  corpus = pjf_common.load_corpus(results['corpus_dir'])
  with open(interviews, encoding='utf-8') as f:
    items = [loop.Interview.from_json(json.loads(line)) for line in f if line.strip()]
  return counterfactual.probe(model, corpus, [i for i in items if i.split == _SPLIT.value],
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
                                  split=_SPLIT.value, threshold=_THRESHOLD.value)
    if _PROBE.value:
      probe = (_hirenet_probe(run_dir) if 'hirable' in report['audits']
               else _mockllm_probe(run_dir))
      if probe is not None:
        report = bias_audit.write(bias_audit.audit_dir(run_dir, _THRESHOLD.value),
                                  dict(report, probe=probe))
    print(bias_audit.summary(report))
    if _SCORE_CORPUS.value and 'hirable' in report['audits']:
      with tempfile.TemporaryDirectory() as scratch:
        _, _, rows = common.score_corpus(run_dir, _SCORE_CORPUS.value, scratch)
      print(bias_audit.summary(bias_audit.audit_scored(
          run_dir, _SCORE_CORPUS.value, rows, threshold=_THRESHOLD.value,
          attributes=_ATTRIBUTES.value, num_bootstrap=_NUM_BOOTSTRAP.value,
          seed=_SEED.value)))


if __name__ == '__main__':
  app.run(common.entry_point(main, extra_errors=(ValueError,)))
