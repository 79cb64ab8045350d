r"""Measures data preparation: openSMILE extraction on all cores and shard building
(benchmarks/data_prep.py says what each figure is).

  python -m experiments.benchmark_data_prep [--candidates=200] [--audio_candidates=12] \
      [--modalities=text,audio] [--workers=N] [--repeats=1] \
      [--output=benchmarks/results/data_prep.json] [--work_dir=DIR]
  python -m experiments.benchmark_data_prep --runner=beam [--modalities=audio] \
      [--audio_candidates=N | --corpus_dir=DIR] [--beam_pipeline_options=...]

Prints one table and writes the figures as JSON. --runner=beam times the Beam build
(data_prep.hirenet.beam_build; pip install -e '.[beam]') beside the local one on the same
corpus instead (default output benchmarks/results/data_prep_beam.json).
"""

from __future__ import annotations

import json
import os
import sys

from absl import app
from absl import flags

from benchmarks import data_prep as benchmark
from data_prep.errors import CorpusError

_CANDIDATES = flags.DEFINE_integer(
    'candidates', 200, 'N: text builds run on N and 4N candidates (at least 8).')
_AUDIO_CANDIDATES = flags.DEFINE_integer(
    'audio_candidates', 12, 'N for audio builds (N and 4N candidates); the extraction '
    'benchmark uses the answers of the 4N corpus.')
_MODALITIES = flags.DEFINE_list('modalities', ['text', 'audio'],
                                'Builds to time (text, audio); audio adds the extraction '
                                'benchmark.')
_WORKERS = flags.DEFINE_integer('workers', None,
                                'Extraction processes of the parallel run and of audio '
                                'builds (default: every core).')
_REPEATS = flags.DEFINE_integer('repeats', 1, 'Timed runs of each measurement; the '
                                'fastest is kept.')
_RUNNER = flags.DEFINE_enum('runner', 'local', ['local', 'beam'],
                            'local: the extraction and scaling benchmarks; beam: the Beam '
                            'build beside the local one on one corpus.')
_BEAM_OPTIONS = flags.DEFINE_string('beam_pipeline_options', None,
                                    'With --runner=beam: as data_prep.build\'s (default: '
                                    'the DirectRunner on --workers processes).')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None,
                                  'With --runner=beam: time the builds of this corpus '
                                  'instead of a generated one.')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON file (default: benchmarks/results/'
                              'data_prep.json, data_prep_beam.json with --runner=beam).')
_WORK_DIR = flags.DEFINE_string('work_dir', None, 'Where corpora and shards go (default: '
                                'a temporary folder, deleted at the end).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    results = benchmark.measure(
        _WORK_DIR.value, candidates=_CANDIDATES.value,
        audio_candidates=_AUDIO_CANDIDATES.value, modalities=_MODALITIES.value,
        workers=_WORKERS.value, repeats=_REPEATS.value, runner=_RUNNER.value,
        beam_options=_BEAM_OPTIONS.value, corpus_dir=_CORPUS_DIR.value)
  except (CorpusError, RuntimeError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  results['command'] = ' '.join(['python -m experiments.benchmark_data_prep'] + sys.argv[1:])
  output = _OUTPUT.value or os.path.join(
      'benchmarks', 'results', 'data_prep_beam.json' if _RUNNER.value == 'beam'
      else 'data_prep.json')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, 'w', encoding='utf-8') as f:
    json.dump(results, f, indent=2)
  print(benchmark.format_table(results))
  print(f'wrote {output}')


if __name__ == '__main__':
  app.run(main)
