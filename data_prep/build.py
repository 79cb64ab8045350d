r"""Builds the TFDS dataset of one modality from a raw corpus and prints Table 2.

  python -m data_prep.build --corpus_dir=DIR --modality=text --data_dir=D \
      [--split=auto|by_candidate|by_position|given] [--seed=0] [--on_error=fail|skip] \
      [--embeddings=frWac.bin|cc.fr.300.vec | --representation=word2vec|vectors:PATH|llm[:LAYER]]
      [--gguf=model.gguf] [--num_shards=N] [--frame_pooling=K] [--workers=N]
      [--runner=local|beam] [--beam_pipeline_options="runner=DataflowRunner,project=P,..."]

Writes `{data_dir}/hirenet_interviews/{modality}/1.0.0/` (array_record shards) and
`{data_dir}/assets/{modality}/` (meta.json, vocab.txt, embeddings.npy,
feature_stats.npz; state_stats.npz with --representation=llm) as fixed in
docs/contracts.md. With --on_error=skip, bad records are dropped and listed in
`{data_dir}/excluded_manifest.csv`. --representation=llm[:LAYER] encodes every text with
the embedded language model once (`{data_dir}/llm_states/` keeps the states, so a killed
build resumes; docs/llm.md). The work is data_prep.hirenet.build.build_dataset.
"""

from __future__ import annotations

import logging as std_logging
import sys

from absl import app
from absl import flags

from data_prep import read_flags
from data_prep.errors import CorpusError
from data_prep.errors import FeatureError
from data_prep.hirenet import build
from data_prep.hirenet import splits as splits_lib
from hirenet_jax.hirenet import dataset_spec

_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, 'Corpus directory (interviews.jsonl).',
                                  required=True)
_MODALITY = flags.DEFINE_enum('modality', None, list(dataset_spec.MODALITIES),
                              'Modality to build.', required=True)
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'Output TFDS data directory.',
                                required=True)
_SPLIT = flags.DEFINE_enum('split', 'auto', list(splits_lib.METHODS),
                           'by_candidate: 80/10/10 stratified; by_position: whole '
                           'positions; given: each line\'s "split"; auto: given when '
                           'every line has one, else by_candidate.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the split and of word2vec.')
_ON_ERROR, _EMBEDDINGS, _REPRESENTATION, _GGUF = read_flags.define_build_flags()
_NUM_SHARDS = flags.DEFINE_integer('num_shards', None,
                                   'Shards per split (default: TFDS size rule).')
_FRAME_POOLING = flags.DEFINE_integer('frame_pooling', None,
                                      'Audio: average K LLD frames into one.')
_WORKERS = flags.DEFINE_integer('workers', None, 'Audio extraction processes.')
_MIN_COUNT = flags.DEFINE_integer('min_count', 1, 'Minimum training-split count of a word.')
_RUNNER = flags.DEFINE_enum('runner', 'local', ['local', 'beam'],
                            'local: this machine\'s processes; beam: an Apache Beam pipeline '
                            '(pip install -e \'.[beam]\'; docs/corpus_format.md).')
_BEAM_OPTIONS = flags.DEFINE_string(
    'beam_pipeline_options', None, 'With --runner=beam: Beam options, comma-separated '
    'as for tfds build ("runner=DataflowRunner,project=P,region=R,temp_location=gs://B/t") '
    'or as flags ("--runner=FlinkRunner --flink_master=H:8081"); default: the '
    'DirectRunner on --workers processes.')
_OVERWRITE = flags.DEFINE_bool('overwrite', False,
                               'Rebuild even if an up-to-date dataset exists.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  std_logging.getLogger('gensim').setLevel(std_logging.WARNING)  # Per-epoch chatter.
  try:
    summary = build.build_dataset(
        _CORPUS_DIR.value, _MODALITY.value, _DATA_DIR.value, split=_SPLIT.value,
        seed=_SEED.value, on_error=_ON_ERROR.value, embeddings=_EMBEDDINGS.value,
        num_shards=_NUM_SHARDS.value, frame_pooling=_FRAME_POOLING.value,
        workers=_WORKERS.value, overwrite=_OVERWRITE.value, min_count=_MIN_COUNT.value,
        representation=_REPRESENTATION.value, gguf=_GGUF.value, runner=_RUNNER.value,
        beam_options=_BEAM_OPTIONS.value, **read_flags.read_options())
  except CorpusError as e:
    hint = ('' if _ON_ERROR.value == 'skip' else '\n(--on_error=skip drops bad records '
            f'and lists them in {build.MANIFEST})')
    print(f'error: {e}{hint}', file=sys.stderr)
    sys.exit(1)
  except (FeatureError, FileExistsError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  print(build.format_table2(summary))


if __name__ == '__main__':
  app.run(main)
