r"""Attention analysis of trained runs (paper: Attention visualization).

  python -m experiments.explain --workdir=W [--workdir=W2,W3] [--corpus_dir=DIR] \
      --out_dir=O [--candidate_id=ID] [--split=test] [--num_reports=10]

For each run (one per modality) scores the corpus (default: the run's own corpus, its
`--split`; a new corpus is scored whole) and computes:
  - text: relative word attention (alpha x words in the answer), relative question
    attention (beta x questions), word importance sqrt(p_q p_w), the 20 most important
    words (O/{modality}_top_words.png);
  - audio / video: each answer's attention curve over time in seconds with its peaks
    (paper Figure 2; O/{modality}_{candidate}_q{k}.png for the reported candidates);
  - questions: for one position, the attention per question slot averaged over its
    candidates, per modality (paper Figure 3; O/questions_{position}.png);
  - on a synthetic corpus (ground_truth.jsonl beside interviews.jsonl): the share of key
    answers whose attention peak falls inside a planted cue span and the share of
    interviews whose most attended answer is a key answer, next to their chance levels.
Writes O/explain.json with every number and O/candidates/{candidate}.html reports.
"""

from __future__ import annotations

import os
import tempfile

from absl import app
from absl import flags

from experiments import common

_WORKDIRS = flags.DEFINE_list('workdir', None, 'Finished training run(s), one per modality.',
                              required=True)
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, 'Raw corpus; default: the runs\' own.')
_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Output directory.', required=True)
_CANDIDATE = flags.DEFINE_string('candidate_id', None, 'Report only this candidate.')
_SPLIT = flags.DEFINE_enum('split', 'test', ['train', 'validation', 'test', 'all'],
                           'Candidates analysed when scoring the runs\' own corpus.')
_NUM_REPORTS = flags.DEFINE_integer('num_reports', 10,
                                    'HTML reports to write (first candidates by id).')
_POSITION = flags.DEFINE_string('position_id', None,
                                'Position of Figure 3 (default: the most frequent one).')
_NUM_PEAKS = flags.DEFINE_integer('num_peaks', 3, 'Peaks reported per audio/video answer.')
_TOP_K = flags.DEFINE_integer('top_k', 20, 'Most important words reported (text).')


def _score(workdir: str):
  """(workdir, config, meta, rows): the run's checkpoint applied to the corpus."""
  with tempfile.TemporaryDirectory() as scratch:
    return (workdir, *common.score_corpus(workdir, _CORPUS_DIR.value, scratch))


def main():
  from data_prep.hirenet import text as text_lib  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet.analysis import explain  # pylint: disable=g-import-not-at-top
  out = explain.explain_runs(
      [_score(w) for w in _WORKDIRS.value], _OUT_DIR.value, corpus_dir=_CORPUS_DIR.value,
      split=_SPLIT.value, candidate_id=_CANDIDATE.value, num_reports=_NUM_REPORTS.value,
      position_id=_POSITION.value, num_peaks=_NUM_PEAKS.value, top_k=_TOP_K.value,
      tokenize=text_lib.tokenize_with_offsets)
  print(explain.format_summary(out))
  print(f'wrote {os.path.join(_OUT_DIR.value, "explain.json")}, {len(out["reports"])} '
        f'HTML reports and the figures in {_OUT_DIR.value}')


if __name__ == '__main__':
  app.run(common.entry_point(main))
