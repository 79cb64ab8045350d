r"""Converts the MockLLM authors' data layout into our person-job-fit corpus format.

  python -m data_prep.pjf_convert --authors_dir=DIR --out_dir=OUT \
      [--on_error=fail|skip] [--one_sided=negative|drop] [--seed=0]

Reads doc.json, sample.json and dialogs_data.json, writes jobs.jsonl, resumes.jsonl and
pairs.jsonl (docs/pjf_format.md) and reads them back to check them (data_prep.pjf.convert).
--on_error=skip leaves out the records with a problem and lists them in
`{out_dir}/excluded_manifest.csv`; a pair listed by one side only gets 0 on the other
side, or is left out with --one_sided=drop (counted).
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags

from data_prep.errors import CorpusError
from data_prep.pjf import authors as pjf_authors
from data_prep.pjf import convert
from data_prep.pjf import corpus as pjf_corpus

_AUTHORS_DIR = flags.DEFINE_string('authors_dir', None, 'Directory with doc.json, '
                                   'sample.json and optionally dialogs_data.json.',
                                   required=True)
_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Corpus directory to write.', required=True)
_ON_ERROR = flags.DEFINE_enum('on_error', 'fail', ['fail', 'skip'],
                              'fail: list problems and exit 1; skip: leave those records '
                              f'out and list them in {pjf_corpus.MANIFEST}.')
_ONE_SIDED = flags.DEFINE_enum('one_sided', 'negative', list(pjf_authors.ONE_SIDED),
                               'A pair listed by one side only: 0 on the other side, or '
                               'drop it.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the by-candidate 80/10/10 split.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    out = convert.convert(_AUTHORS_DIR.value, _OUT_DIR.value, on_error=_ON_ERROR.value,
                          one_sided=_ONE_SIDED.value, seed=_SEED.value)
  except CorpusError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  if out['manifest']:
    print(f'{len(out["problems"])} problem(s); left-out records listed in {out["manifest"]}')
  counts = out['counts']
  print(f'Pairs listed by both sides: {counts["pairs_both_sides"]}, by the candidate only: '
        f'{counts["pairs_candidate_side_only"]}, by the job only: '
        f'{counts["pairs_job_side_only"]} ({counts["pairs_one_sided_dropped"]} dropped).')
  print(pjf_corpus.format_counts(out['written']))
  print(f'Wrote {_OUT_DIR.value}')


if __name__ == '__main__':
  app.run(main)
