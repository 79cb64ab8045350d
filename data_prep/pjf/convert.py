r"""Converts the MockLLM authors' data layout into our person-job-fit corpus format
(convert); the command is `python -m data_prep.pjf_convert`.

Reads doc.json, sample.json and dialogs_data.json (data_prep.pjf.authors), writes
jobs.jsonl, resumes.jsonl and pairs.jsonl (docs/pjf_format.md) and reads them back to
check them. --on_error=skip leaves out the records with a problem and lists them in
`{out_dir}/excluded_manifest.csv`; a pair listed by one side only gets 0 on the other
side, or is left out with --one_sided=drop (counted).
"""

from __future__ import annotations

import os

from data_prep.pjf import authors as pjf_authors
from data_prep.pjf import corpus as pjf_corpus


def convert(authors_dir: str, out_dir: str, *, on_error: str = 'fail',
            one_sided: str = 'negative', seed: int = 0) -> dict:
  """Writes the corpus of `authors_dir` into `out_dir` and reads it back: the authors'
  side counts (`counts`), the written corpus's counts (`written`), the records left out
  (`problems`) and, with on_error='skip', the manifest listing them (`manifest`). Raises
  CorpusError on a problem with on_error='fail', or when the written corpus does not read
  back clean (e.g. no pair left)."""
  corpus, problems, counts = pjf_authors.read_authors(
      authors_dir, on_error=on_error, one_sided=one_sided, seed=seed)
  pjf_corpus.write_corpus(corpus, out_dir)
  manifest = None
  if on_error == 'skip':
    manifest = os.path.join(out_dir, pjf_corpus.MANIFEST)
    pjf_corpus.write_manifest(manifest, problems)
  _, written_problems, written = pjf_corpus.check_corpus(out_dir)
  if written_problems:
    raise pjf_corpus.CorpusProblems(out_dir, written_problems)
  return dict(counts=counts, written=written, problems=problems, manifest=manifest)
