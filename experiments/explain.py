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

import collections
import json
import os
import sys
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

def _load_jsonl(path: str) -> dict[str, dict]:
  with open(path, encoding='utf-8') as f:
    return {r['candidate_id']: r for r in map(json.loads, f) if r}


def main():
  from data_prep.hirenet import text as text_lib
  from hirenet_jax.hirenet.analysis import explain as explanation
  out_dir = _OUT_DIR.value
  os.makedirs(out_dir, exist_ok=True)
  per_modality, summary = {}, {'runs': {}}
  truth: dict = {}
  for workdir in _WORKDIRS.value:
    with tempfile.TemporaryDirectory() as scratch:
      config, meta, rows = common.score_corpus(workdir, _CORPUS_DIR.value, scratch)
    corpus_dir = _CORPUS_DIR.value or meta.get('corpus_dir')
    if not corpus_dir or not os.path.exists(os.path.join(corpus_dir, 'interviews.jsonl')):
      raise common.CommandError(f'cannot find the raw corpus of {workdir}: pass --corpus_dir')
    interviews = _load_jsonl(os.path.join(corpus_dir, 'interviews.jsonl'))
    gt_path = os.path.join(corpus_dir, 'ground_truth.jsonl')
    truth = _load_jsonl(gt_path) if os.path.exists(gt_path) else {}
    if _CORPUS_DIR.value is None and _SPLIT.value != 'all':
      rows = [r for r in rows if r['split'] == _SPLIT.value]
    modality = config.modality
    frame_rate = meta.get('frame_rate')
    candidates = explanation.analyse_run(modality, frame_rate, rows, interviews,
                                         num_peaks=_NUM_PEAKS.value,
                                         tokenize=text_lib.tokenize_with_offsets)
    run = {'workdir': workdir, 'modality': modality, 'variant': config.model.variant,
           'num_candidates': len(candidates)}
    run.update(explanation.summarise_run(modality, frame_rate, candidates, truth,
                                         out_dir=out_dir, top_k=_TOP_K.value))
    per_modality[modality] = {'run': run, 'candidates': candidates,
                              'by_id': {c['candidate_id']: c for c in candidates}}
    summary['runs'][modality] = run

  # Figure 3: one position, every modality.
  all_candidates = [c for r in per_modality.values() for c in r['candidates']]
  if _CANDIDATE.value is not None:
    if not any(c['candidate_id'] == _CANDIDATE.value for c in all_candidates):
      print(f'error: candidate {_CANDIDATE.value} is not among the scored candidates',
            file=sys.stderr)
      sys.exit(1)
    chosen = [_CANDIDATE.value]
  else:
    chosen = sorted({c['candidate_id'] for c in all_candidates})[:_NUM_REPORTS.value]
  position = _POSITION.value
  if position is None and _CANDIDATE.value:  # The reported candidate's position.
    position = next(c['position_id'] for c in all_candidates
                    if c['candidate_id'] == _CANDIDATE.value)
  elif position is None and all_candidates:  # The best-represented position.
    position = collections.Counter(
        c['position_id'] for c in all_candidates).most_common(1)[0][0]
  if position is not None:
    summary['question_attention_by_position'] = explanation.position_figure(
        per_modality, position, out_dir)
  explanation.answer_curves(per_modality, chosen, out_dir)  # Figure 2 (audio, video).

  reports = explanation.write_reports(out_dir, per_modality, chosen, truth)
  summary['candidates'] = {m: r['candidates'] for m, r in per_modality.items()}
  with open(os.path.join(out_dir, 'explain.json'), 'w', encoding='utf-8') as f:
    json.dump(summary, f, ensure_ascii=False)

  for modality, run in summary['runs'].items():
    print(f'{modality} / {run["variant"]}: {run["num_candidates"]} candidates')
    if 'top_words' in run:
      print('  top words: ' + ', '.join(f'{w["word"]} ({w["importance"]:.2f})'
                                        for w in run['top_words'][:10]))
    if 'ground_truth' in run:
      a = run['ground_truth']['answer_peak_in_cue_span']
      q = run['ground_truth']['question_peak_on_key_answer']
      print(f'  attention peak inside the planted cue span: {a["rate"]:.3f} '
            f'of {a["total"]} key answers (chance {a["chance"]:.3f})')
      print(f'  most attended answer is a key answer: {q["rate"]:.3f} '
            f'of {q["total"]} interviews (chance {q["chance"]:.3f})')
  print(f'wrote {os.path.join(out_dir, "explain.json")}, {len(reports)} HTML reports '
        f'and the figures in {out_dir}')


if __name__ == '__main__':
  app.run(common.entry_point(main))
