r"""Checks a person-job-fit corpus and lists every problem with file, line, id and reason.

  python -m data_prep.pjf_validate --corpus_dir=DIR [--on_error=fail|skip] [--output_dir=.]

--on_error=fail (default) prints the counts and the problems and exits 1 if there is any;
--on_error=skip writes `{output_dir}/excluded_manifest.csv` (one row per left-out record)
and exits 0. The format is docs/pjf_format.md; the checks are
data_prep.pjf.corpus.check_corpus.
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from data_prep.errors import CorpusError
from data_prep.errors import print_problems
from data_prep.pjf import corpus as pjf_corpus

_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, 'Corpus directory (jobs.jsonl, '
                                  'resumes.jsonl, pairs.jsonl).', required=True)
_ON_ERROR = flags.DEFINE_enum('on_error', 'fail', ['fail', 'skip'], 'fail: list problems '
                              'and exit 1; skip: write the manifest, exit 0.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', '.',
                                  f'Where --on_error=skip writes {pjf_corpus.MANIFEST}.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the split when pairs carry none.')
_SPLIT_MODE = flags.DEFINE_enum('split_mode', pjf_corpus.DEFAULT_SPLIT_MODE,
                                list(pjf_corpus.SPLIT_MODES),
                                'Split when pairs carry none: warm (evaluated candidates '
                                'keep half their pairs in training) or candidate (80/10/10 '
                                'by candidate).')
_MAX_LISTED = flags.DEFINE_integer('max_listed', 50, 'Problems printed in full.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not os.path.isdir(_CORPUS_DIR.value):
    print(f'error: {_CORPUS_DIR.value}: corpus directory not found', file=sys.stderr)
    sys.exit(1)
  try:
    _, problems, counts = pjf_corpus.check_corpus(_CORPUS_DIR.value, seed=_SEED.value,
                                                  split_mode=_SPLIT_MODE.value)
  except CorpusError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  if _ON_ERROR.value == 'skip':
    path = os.path.join(_OUTPUT_DIR.value, pjf_corpus.MANIFEST)
    pjf_corpus.write_manifest(path, problems)
    print(pjf_corpus.format_counts(counts))
    print(f'{len(problems)} problem(s); left-out records listed in {path}')
    return
  if not print_problems(problems, pjf_corpus.format_counts(counts),
                        max_listed=_MAX_LISTED.value, manifest=pjf_corpus.MANIFEST,
                        reason_key=lambda p: p.reason.split(':')[0].split(' (')[0]):
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
