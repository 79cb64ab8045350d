r"""Scores every candidate of a raw corpus with a trained run's selected checkpoint.

  python -m experiments.predict --workdir=W --corpus_dir=DIR --output=FILE.jsonl

Writes one JSON line per candidate: candidate_id, position_id, score, hirable (score >=
the run's selected threshold), question_attention (one weight per answer that has
this modality), answer_attention (per such answer, one weight per word or feature frame)
and answer_index (the 0-based position of each of those answers in the raw interview),
and, when the corpus carries group attributes, one `attr_<name>` entry per attribute, as
in predictions.csv (for `experiments.audit`; docs/fairness.md).
The corpus is featurised with the training dataset's vocabulary and normalisation
statistics.
"""

from __future__ import annotations

import json
import os
import tempfile

from absl import app
from absl import flags

from experiments import common

_WORKDIR = flags.DEFINE_string('workdir', None, 'A finished training run.', required=True)
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None,
                                  'Raw corpus (interviews.jsonl); default: the run\'s own.')
_OUTPUT = flags.DEFINE_string('output', None, 'Output JSONL file.', required=True)


def main():
  with tempfile.TemporaryDirectory() as scratch:
    _, _, rows = common.score_corpus(_WORKDIR.value, _CORPUS_DIR.value, scratch)
  os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
  with open(_OUTPUT.value, 'w') as out:
    for row in rows:
      row = {k: v for k, v in row.items() if k not in ('label', 'split')}
      out.write(json.dumps(row) + '\n')
  print(f'scored {len(rows)} candidates -> {_OUTPUT.value}')


if __name__ == '__main__':
  app.run(common.entry_point(main))
