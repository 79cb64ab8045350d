r"""Writes the robustness suite's corpora (data_prep.hirenet.corpus_suite says what each
one tests; docs/robustness.md shows the results).

  python -m data_prep.corpus_suite --out_dir=/tmp/suite [--corpora=b_weak_lexical,...]
"""

from __future__ import annotations

from absl import app
from absl import flags

from data_prep.hirenet import corpus_suite

_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Directory to write the corpora into.',
                               required=True)
_CORPORA = flags.DEFINE_list('corpora', None, 'Which corpora (default all): '
                             f'{",".join(corpus_suite.SUITE)}.')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    written = corpus_suite.write_suite(_OUT_DIR.value, _CORPORA.value)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  for out, info, spec in written:
    print(f'{out}: {info["params"]["num_candidates"]} candidates, '
          f'{info["hirable_fraction"]:.1%} hirable ({spec.description})')


if __name__ == '__main__':
  app.run(main)
