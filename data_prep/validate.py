r"""Checks a raw interview corpus and lists every problem with file, record and reason.

  python -m data_prep.validate --corpus_dir=DIR [--modalities=text,audio,video] \
      [--on_error=fail|skip] [--output_dir=.] [--deep]

Checks: malformed JSON, missing fields, bad labels/decisions, duplicate candidate ids,
missing or unreadable media, empty audio, malformed OpenFace CSVs, NaN/inf features,
empty transcripts and interviews left with no usable answer for a modality.
--on_error=fail (default) lists the problems and exits 1 if there is any;
--on_error=skip writes `{output_dir}/excluded_manifest.csv` and exits 0.
Raw audio is only decoded (openSMILE runs in data_prep.build) unless --deep. The checks
are data_prep.hirenet.validate.check_corpus.
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from data_prep import read_flags
from data_prep.errors import CorpusError
from data_prep.errors import print_problems
from data_prep.errors import write_manifest
from data_prep.hirenet import validate

_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, 'Corpus directory (interviews.jsonl).',
                                  required=True)
_MODALITIES = flags.DEFINE_list('modalities', None,
                                'Modalities to check (default: all present).')
_ON_ERROR = flags.DEFINE_enum('on_error', 'fail', ['fail', 'skip'], 'fail: list problems '
                              'and exit 1; skip: write the manifest, exit 0.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', '.',
                                  f'Where --on_error=skip writes {validate.MANIFEST}.')
_DEEP = flags.DEFINE_bool('deep', False, 'Run openSMILE on raw audio too (slow).')
_MAX_LISTED = flags.DEFINE_integer('max_listed', 50, 'Problems printed in full.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    problems, counts = validate.check_corpus(_CORPUS_DIR.value, modalities=_MODALITIES.value,
                                             deep=_DEEP.value, **read_flags.read_options())
  except (CorpusError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  if _ON_ERROR.value == 'skip':
    path = os.path.join(_OUTPUT_DIR.value, validate.MANIFEST)
    write_manifest(path, problems)
    print(validate.format_counts(counts))
    print(f'{len(problems)} problem(s); excluded records listed in {path}')
    return
  if not print_problems(problems, validate.format_counts(counts),
                        max_listed=_MAX_LISTED.value, manifest=validate.MANIFEST):
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
