r"""Converts the MockLLM authors' data layout into our person-job-fit corpus format.

  python -m data_prep.pjf_convert --authors_dir=DIR --out_dir=OUT \
      [--on_error=fail|skip] [--one_sided=negative|drop] [--seed=0]

Reads doc.json, sample.json and dialogs_data.json (data_prep.pjf.authors), writes
jobs.jsonl, resumes.jsonl and pairs.jsonl (docs/pjf_format.md) and reads them back to
check them. --on_error=skip leaves out the records with a problem and lists them in
`{out_dir}/excluded_manifest.csv`; a pair listed by one side only gets 0 on the other
side, or is left out with --one_sided=drop (counted).
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from data_prep.pjf import authors as pjf_authors
from data_prep.pjf import corpus as pjf_corpus
from data_prep.errors import CorpusError

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string('authors_dir', None, 'Directory with doc.json, sample.json and '
                      'optionally dialogs_data.json.')
  flags.DEFINE_string('out_dir', None, 'Corpus directory to write.')
  flags.DEFINE_enum('on_error', 'fail', ['fail', 'skip'],
                    'fail: list problems and exit 1; skip: leave those records out and '
                    f'list them in {pjf_corpus.MANIFEST}.')
  flags.DEFINE_enum('one_sided', 'negative', list(pjf_authors.ONE_SIDED),
                    'A pair listed by one side only: 0 on the other side, or drop it.')
  flags.DEFINE_integer('seed', 0, 'Seed of the by-candidate 80/10/10 split.')
  flags.mark_flags_as_required(['authors_dir', 'out_dir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    corpus, problems, counts = pjf_authors.read_authors(
        FLAGS.authors_dir, on_error=FLAGS.on_error, one_sided=FLAGS.one_sided,
        seed=FLAGS.seed)
    pjf_corpus.write_corpus(corpus, FLAGS.out_dir)
    if FLAGS.on_error == 'skip':
      path = os.path.join(FLAGS.out_dir, pjf_corpus.MANIFEST)
      pjf_corpus.write_manifest(path, problems)
      print(f'{len(problems)} problem(s); left-out records listed in {path}')
    _, written_problems, written = pjf_corpus.check_corpus(FLAGS.out_dir)
    if written_problems:  # E.g. no pair left: the written corpus must read back clean.
      raise pjf_corpus.CorpusProblems(FLAGS.out_dir, written_problems)
  except CorpusError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  print(f'Pairs listed by both sides: {counts["pairs_both_sides"]}, by the candidate only: '
        f'{counts["pairs_candidate_side_only"]}, by the job only: '
        f'{counts["pairs_job_side_only"]} ({counts["pairs_one_sided_dropped"]} dropped).')
  print(pjf_corpus.format_counts(written))
  print(f'Wrote {FLAGS.out_dir}')


if __name__ == '__main__':
  define_flags()
  app.run(main)
