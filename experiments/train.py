r"""Trains and evaluates one HireNet model (paper: Table 3, one cell).

  python -m experiments.train --modality=text --variant=hirenet \
      [--corpus_dir=DIR | --data_dir=D] [--workdir=W] [--seed=S] \
      [--representation=word2vec|vectors:PATH|llm[:LAYER]] [--gguf=model.gguf] \
      [--embeddings=cc.en.300.vec] [--on_error=skip] [--hirable_decisions=hire,...] \
      [--not_hirable_decisions=reject,...] [--allow_external_media] \
      [--config=experiments/configs/default.py] [--config.num_epochs=10 ...]

With neither --corpus_dir nor --data_dir the default synthetic corpus is used (built once
and cached). A --corpus_dir is built as data_prep.build builds it, with its options
(--representation, --gguf, --embeddings, --on_error, the decision words; shorthands for
the --config.* fields of the same names, --representation for
--config.text_representation); each set of options has its own cached dataset, and with
--on_error=skip the run prints the records it dropped and where they are listed. A text
run starts by printing the representation it reads. A killed run restarted with
the same workdir resumes from its latest checkpoint. The checkpoint is selected on
--config.selection_metric (validation ROC AUC by default), its threshold on validation F1. Also fits the position-majority vote and
TF-IDF + logistic regression (text) or frame functionals + logistic regression (audio,
video) on the same split. Ends by printing validation and test precision / recall / F1
of the hirable class with the baselines' test rows, and a WARNING line for a constant
predictor or a model below a baseline; writes W/results.json, W/predictions.csv and
W/curves.png.
"""

from __future__ import annotations


from absl import app
from absl import flags

from data_prep import read_flags
from experiments import common

_CONFIG = common.define_config_flag()
_MODALITY = flags.DEFINE_string('modality', None,
                                'text | audio | video (--config.modality).')
_VARIANT = flags.DEFINE_string('variant', None,
                               'bigru | hn_avg | hn_satt | hirenet (--config.model.variant).')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, 'Raw corpus (interviews.jsonl).')
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'Prepared dataset (data_prep.hirenet.build).')
_ON_ERROR, _EMBEDDINGS, _REPRESENTATION, _GGUF = read_flags.define_build_flags(
    on_error_default=None)
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Run directory; default workdirs/{modality}_{variant}_s{seed}.')
_SEED = flags.DEFINE_integer('seed', None, 'Shorthand for --config.seed.')
_MULTIHOST = flags.DEFINE_bool('multihost', False,
                               'Call jax.distributed.initialize() first (TPU pods, GPU clusters).')
_COORDINATOR = flags.DEFINE_string('coordinator_address', None,
                                   'host:port of process 0 (auto-detected when omitted).')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None, 'With --coordinator_address.')
_PROCESS_ID = flags.DEFINE_integer('process_id', None, 'With --coordinator_address.')


def _reading_options() -> dict:
  """read_flags' corpus-reading flags that were given, as config fields."""
  hirable, not_hirable = read_flags.decision_words()
  return dict(hirable_decisions=hirable or None, not_hirable_decisions=not_hirable or None,
              allow_external_media=read_flags.external_media() or None)


def main():
  import jax  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet.baselines import beside_run as quick_baselines  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import train_lib  # pylint: disable=g-import-not-at-top
  config = _CONFIG.value
  common.apply_shorthands(config, modality=_MODALITY.value, variant=_VARIANT.value,
                          seed=_SEED.value, corpus_dir=_CORPUS_DIR.value,
                          data_dir=_DATA_DIR.value, embeddings=_EMBEDDINGS.value,
                          text_representation=_REPRESENTATION.value, gguf=_GGUF.value,
                          on_error=_ON_ERROR.value, **_reading_options())
  config.data_dir = common.prepare_data(config)
  report = common.data_report(config.data_dir, config.modality)
  if jax.process_index() == 0:
    if report:
      print(report, flush=True)
    representation = common.representation_line(config.data_dir, config.modality)
    if representation:
      print(representation, flush=True)
  workdir = _WORKDIR.value or common.default_workdir(config)
  results = train_lib.train_and_evaluate(config, workdir)
  if jax.process_index() == 0:
    baselines = quick_baselines.fit(config.data_dir, config.modality, seed=config.seed)
    results = train_lib.add_baselines(results, baselines, workdir)
    print(common.run_report(config, results, workdir))


entry = common.entry_point(
    main, multihost=lambda: _MULTIHOST.value, coordinator=lambda: _COORDINATOR.value,
    num_processes=lambda: _NUM_PROCESSES.value, process_id=lambda: _PROCESS_ID.value)

if __name__ == '__main__':
  app.run(entry)
