r"""Measures data preparation: openSMILE extraction on all cores and shard building
(benchmarks/data_prep.py says what each figure is).

  python -m experiments.benchmark_data_prep [--candidates=200] [--audio_candidates=12] \
      [--modalities=text,audio] [--workers=N] [--repeats=1] \
      [--output=benchmarks/results/data_prep.json] [--work_dir=DIR]

Prints one table and writes the figures as JSON.
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
_OUTPUT = flags.DEFINE_string('output', os.path.join('benchmarks', 'results',
                                                     'data_prep.json'), 'JSON file.')
_WORK_DIR = flags.DEFINE_string('work_dir', None, 'Where corpora and shards go (default: '
                                'a temporary folder, deleted at the end).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  try:
    results = benchmark.measure(
        _WORK_DIR.value, candidates=_CANDIDATES.value,
        audio_candidates=_AUDIO_CANDIDATES.value, modalities=_MODALITIES.value,
        workers=_WORKERS.value, repeats=_REPEATS.value)
  except (CorpusError, RuntimeError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  results['command'] = ' '.join(['python -m experiments.benchmark_data_prep'] + sys.argv[1:])
  os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
  with open(_OUTPUT.value, 'w', encoding='utf-8') as f:
    json.dump(results, f, indent=2)
  print(benchmark.format_table(results))
  print(f'wrote {_OUTPUT.value}')


if __name__ == '__main__':
  app.run(main)
