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
import numpy as np

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
_CACHE_DIR = flags.DEFINE_string('jax_cache_dir',
                                 os.path.expanduser('~/.cache/hirenet_jax/xla'),
                                 'Persistent XLA compilation cache ("" = off).')

CUE_EVENTS = ('X', 'Y')  # The synthetic corpus's salient events (docs/synthetic_corpus.md).


def _load_jsonl(path: str) -> dict[str, dict]:
  with open(path, encoding='utf-8') as f:
    return {r['candidate_id']: r for r in map(json.loads, f) if r}


def analyse_run(modality: str, frame_rate: float | None, rows, interviews, *,
                num_peaks: int) -> list[dict]:
  """Per candidate: every attention figure of the paper for one modality."""
  from data_prep import text as text_lib
  from hirenet_jax import attention_analysis as aa
  out = []
  for row in rows:
    interview = interviews[row['candidate_id']]
    beta = np.asarray(row['question_attention'])
    p_q = aa.relative_attention(beta)
    answers = []
    for k, (slot, alpha) in enumerate(zip(row['answer_index'], row['answer_attention'])):
      raw = interview['answers'][slot]
      entry = {'answer_index': slot, 'question': raw.get('question', ''),
               'question_attention': float(beta[k]),
               'relative_question_attention': float(p_q[k]),
               'attention': alpha}
      if modality == 'text':
        tokens = text_lib.tokenize_with_offsets(raw.get('transcript') or '')
        p_w = aa.relative_attention(alpha)
        entry['relative_attention'] = p_w.tolist()
        entry['word_importance'] = aa.word_importance(p_q[k], p_w).tolist()
        if len(tokens) == len(alpha):
          entry['words'] = [t for t, _, _ in tokens]
          entry['word_offsets'] = [[s, e] for _, s, e in tokens]
      else:
        entry['frame_rate'] = frame_rate
        entry['peaks'] = [p.__dict__ for p in aa.attention_peaks(alpha, frame_rate,
                                                                num_peaks=num_peaks)]
      answers.append(entry)
    out.append({'candidate_id': row['candidate_id'], 'position_id': row['position_id'],
                'label': row['label'], 'split': row['split'], 'score': row['score'],
                'threshold': row['threshold'], 'job_title': interview.get('job_title', ''),
                'answers': answers})
  return out


def ground_truth_scores(modality: str, frame_rate: float | None, candidates,
                        truth: dict[str, dict]) -> dict:
  """Peak-in-span hit rates of key answers and of questions, with chance levels."""
  from hirenet_jax import attention_analysis as aa
  curves, spans, betas, keys = [], [], [], []
  rate = 1.0 if modality == 'text' else frame_rate  # Text spans are token indices.
  for cand in candidates:
    gt = truth.get(cand['candidate_id'])
    if gt is None:
      continue
    key_answers = set(gt['key_answers'])
    betas.append([a['question_attention'] for a in cand['answers']])
    keys.append([k for k, a in enumerate(cand['answers']) if a['answer_index'] in key_answers])
    for a in cand['answers']:
      if a['answer_index'] not in key_answers:
        continue
      events = gt['answers'][a['answer_index']].get(modality) or []
      events = [e for e in events if e['event'] in CUE_EVENTS]
      if modality == 'text':
        if 'word_offsets' not in a:
          continue
        answer_spans = []
        for e in events:  # Character spans -> token index spans.
          c0, c1 = e['chars']
          hit = [i for i, (s, t) in enumerate(a['word_offsets']) if s < c1 and t > c0]
          if hit:
            answer_spans.append((hit[0], hit[-1] + 1))
      else:
        answer_spans = [tuple(e['seconds']) for e in events]
      if answer_spans:
        curves.append(a['attention'])
        spans.append(answer_spans)
  answer_hits = aa.span_hit_rate(curves, spans, frame_rate=rate)
  question_hits = aa.question_hit_rate(betas, keys)
  return {'answer_peak_in_cue_span': answer_hits.as_dict(),
          'question_peak_on_key_answer': question_hits.as_dict()}


def question_profile(candidates, position_id: str) -> tuple[list[str], list[float], int]:
  """Figure 3 for one modality: mean attention per question slot of a position.

  Slots are labelled with their most frequent question text.
  """
  weights, texts = collections.defaultdict(list), collections.defaultdict(collections.Counter)
  count = 0
  for cand in candidates:
    if cand['position_id'] != position_id:
      continue
    count += 1
    for a in cand['answers']:
      weights[a['answer_index']].append(a['question_attention'])
      texts[a['answer_index']][a['question']] += 1
  slots = sorted(weights)
  labels = [f'Q{s + 1}. {texts[s].most_common(1)[0][0]}' for s in slots]
  return labels, [float(np.mean(weights[s])) for s in slots], count


def write_reports(out_dir: str, per_modality: dict, chosen: list[str], truth: dict) -> list[str]:
  """One self-contained HTML file per chosen candidate (every modality analysed)."""
  from hirenet_jax import attention_analysis as aa
  from hirenet_jax import attention_plots
  from hirenet_jax import html_report
  os.makedirs(os.path.join(out_dir, 'candidates'), exist_ok=True)
  paths = []
  for cid in chosen:
    sections = []
    for modality, result in per_modality.items():
      cand = result['by_id'].get(cid)
      if cand is None:
        continue
      views = []
      for a in cand['answers']:
        view = html_report.AnswerView(a['question'], a['question_attention'])
        if modality == 'text' and 'words' in a:
          view.words, view.word_weights = a['words'], a['attention']
        elif modality != 'text':
          gt = truth.get(cid)
          spans = []
          if gt is not None:
            spans = [tuple(e['seconds']) for e in
                     (gt['answers'][a['answer_index']].get(modality) or [])
                     if e['event'] in CUE_EVENTS]
          peaks = [aa.Peak(**p) for p in a['peaks']]
          view.plot_png = attention_plots.attention_curve(
              a['attention'], a['frame_rate'], peaks, spans=spans,
              title=f'{modality}: answer {a["answer_index"] + 1}')
        views.append(view)
      sections.append(html_report.Section(f'{modality} ({result["run"]["variant"]})',
                                          cand['score'], views, cand['threshold']))
      info = cand
    if not sections:
      continue
    path = os.path.join(out_dir, 'candidates', f'{cid}.html')
    with open(path, 'w', encoding='utf-8') as f:
      f.write(html_report.render_page(cid, sections, job_title=info['job_title'],
                                      label=info['label']))
    paths.append(path)
  return paths


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  common.setup_jax(_CACHE_DIR.value)
  from data_prep.errors import CorpusError
  from hirenet_jax import attention_analysis as aa
  from hirenet_jax import attention_plots
  from hirenet_jax import train_lib
  out_dir = _OUT_DIR.value
  os.makedirs(out_dir, exist_ok=True)
  per_modality, summary = {}, {'runs': {}}
  truth: dict = {}
  try:
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
      candidates = analyse_run(modality, frame_rate, rows, interviews,
                               num_peaks=_NUM_PEAKS.value)
      run = {'workdir': workdir, 'modality': modality, 'variant': config.model.variant,
             'num_candidates': len(candidates)}
      if modality == 'text':
        top = aa.top_words(((
            [a['question_attention'] for a in c['answers']],
            [a['attention'] for a in c['answers']],
            [a.get('words', []) for a in c['answers']]) for c in candidates), k=_TOP_K.value)
        run['top_words'] = [w.__dict__ for w in top]
        if top:
          attention_plots.top_words_bars(top, os.path.join(out_dir, f'{modality}_top_words.png'))
      if truth:
        run['ground_truth'] = ground_truth_scores(modality, frame_rate, candidates, truth)
      per_modality[modality] = {'run': run, 'candidates': candidates,
                                'by_id': {c['candidate_id']: c for c in candidates}}
      summary['runs'][modality] = run
  except (common.CommandError, train_lib.ConfigError, FileNotFoundError, CorpusError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)

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
    profiles = {m: question_profile(r['candidates'], position)
                for m, r in per_modality.items()}
    labels = max((p[0] for p in profiles.values()), key=len)
    values = {m: [dict(zip(p[0], p[1])).get(l, 0.0) for l in labels]
              for m, p in profiles.items()}
    summary['question_attention_by_position'] = {
        'position_id': position, 'questions': labels, 'mean_attention': values,
        'num_candidates': {m: p[2] for m, p in profiles.items()}}
    attention_plots.question_attention_bars(
        values, labels, os.path.join(out_dir, f'questions_{position}.png'),
        title=f'Mean question attention, position {position}')

  # Figure 2 curves of the chosen candidates (audio / video).
  for modality, result in per_modality.items():
    if modality == 'text':
      continue
    for cid in chosen:
      cand = result['by_id'].get(cid)
      for a in (cand or {}).get('answers', []):
        peaks = [aa.Peak(**p) for p in a['peaks']]
        attention_plots.attention_curve(
            a['attention'], a['frame_rate'], peaks,
            title=f'{modality} attention, {cid}, answer {a["answer_index"] + 1}',
            path=os.path.join(out_dir, f'{modality}_{cid}_q{a["answer_index"] + 1}.png'))

  reports = write_reports(out_dir, per_modality, chosen, truth)
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
  app.run(main)
