"""Attention analysis of a scored run: the paper's attention figures per candidate, their
agreement with a synthetic corpus's planted cues, and the per-candidate HTML reports.

`experiments.explain` wires it: it scores a corpus with each run and passes the rows to
`explain_runs`.
"""

from __future__ import annotations

import collections
import json
import os
from typing import Callable, Sequence

import numpy as np

from hirenet_jax.core.errors import ConfigError
from hirenet_jax.hirenet.analysis import stats as aa
from hirenet_jax.hirenet.analysis import figures as attention_plots
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet.analysis import html as html_report

CUE_EVENTS = ('X', 'Y')  # The synthetic corpus's salient events (docs/synthetic_corpus.md).


def analyse_run(modality: str, frame_rate: float | None, rows, interviews, *,
                num_peaks: int, tokenize: Callable[[str], list] | None = None) -> list[dict]:
  """Per candidate: every attention figure of the paper for one modality.

  `tokenize(text) -> [(token, start, end)]` must be the tokeniser the dataset was built
  with (data_prep.hirenet.text.tokenize_with_offsets), so word weights line up with words.
  """
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
      if dataset_spec.modality(modality).words:
        tokens = tokenize(raw.get('transcript') or '') if tokenize else []
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
  curves, spans, betas, keys = [], [], [], []
  rate = 1.0 if dataset_spec.modality(modality).words else frame_rate  # Text spans are token indices.
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
      if dataset_spec.modality(modality).words:
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
        if dataset_spec.modality(modality).words and 'words' in a:
          view.words, view.word_weights = a['words'], a['attention']
        elif not dataset_spec.modality(modality).words:
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


def summarise_run(modality: str, frame_rate: float | None, candidates, truth: dict, *,
                  out_dir: str, top_k: int) -> dict:
  """A run's summary figures: the most important words (text, with their bar chart) and,
  on a synthetic corpus, the hit rates of the attention against the planted cues."""
  run = {}
  if dataset_spec.modality(modality).words:
    top = aa.top_words(((
        [a['question_attention'] for a in c['answers']],
        [a['attention'] for a in c['answers']],
        [a.get('words', []) for a in c['answers']]) for c in candidates), k=top_k)
    run['top_words'] = [w.__dict__ for w in top]
    if top:
      attention_plots.top_words_bars(top, os.path.join(out_dir, f'{modality}_top_words.png'))
  if truth:
    run['ground_truth'] = ground_truth_scores(modality, frame_rate, candidates, truth)
  return run


def position_figure(per_modality: dict, position: str, out_dir: str) -> dict:
  """Figure 3: mean attention per question of one position, every modality; returns the
  numbers plotted in O/questions_{position}.png."""
  profiles = {m: question_profile(r['candidates'], position)
              for m, r in per_modality.items()}
  labels = max((p[0] for p in profiles.values()), key=len)
  values = {m: [dict(zip(p[0], p[1])).get(l, 0.0) for l in labels]
            for m, p in profiles.items()}
  attention_plots.question_attention_bars(
      values, labels, os.path.join(out_dir, f'questions_{position}.png'),
      title=f'Mean question attention, position {position}')
  return {'position_id': position, 'questions': labels, 'mean_attention': values,
          'num_candidates': {m: p[2] for m, p in profiles.items()}}


def answer_curves(per_modality: dict, chosen: list[str], out_dir: str) -> None:
  """Figure 2: each chosen candidate's attention curve per answer (frame modalities)."""
  for modality, result in per_modality.items():
    if dataset_spec.modality(modality).words:
      continue
    for cid in chosen:
      cand = result['by_id'].get(cid)
      for a in (cand or {}).get('answers', []):
        peaks = [aa.Peak(**p) for p in a['peaks']]
        attention_plots.attention_curve(
            a['attention'], a['frame_rate'], peaks,
            title=f'{modality} attention, {cid}, answer {a["answer_index"] + 1}',
            path=os.path.join(out_dir, f'{modality}_{cid}_q{a["answer_index"] + 1}.png'))


def _load_jsonl(path: str) -> dict[str, dict]:
  with open(path, encoding='utf-8') as f:
    return {r['candidate_id']: r for r in map(json.loads, f) if r}


def explain_runs(scored: Sequence[tuple], out_dir: str, *, corpus_dir: str | None = None,
                 split: str = 'test', candidate_id: str | None = None,
                 num_reports: int = 10, position_id: str | None = None,
                 num_peaks: int = 3, top_k: int = 20,
                 tokenize: Callable | None = None) -> dict:
  """The attention analysis of scored runs (one per modality), written into `out_dir`.

  `scored` holds (workdir, config, meta, rows) per run as scoring.score_dataset returns
  them; the raw corpus is `corpus_dir`, else each run's own (then only its `split` is
  analysed unless split='all'). Reports `candidate_id` alone, else the first
  `num_reports` candidates by id; Figure 3 shows `position_id`, else the reported
  candidate's position, else the best-represented one. Writes explain.json, the figures
  and the HTML reports; returns the summary, with the reports' paths under 'reports'.
  """
  os.makedirs(out_dir, exist_ok=True)
  per_modality, summary = {}, {'runs': {}}
  truth: dict = {}
  for workdir, config, meta, rows in scored:
    run_corpus = corpus_dir or meta.get('corpus_dir')
    if not run_corpus or not os.path.exists(os.path.join(run_corpus, 'interviews.jsonl')):
      raise ConfigError(f'cannot find the raw corpus of {workdir}: pass --corpus_dir')
    interviews = _load_jsonl(os.path.join(run_corpus, 'interviews.jsonl'))
    gt_path = os.path.join(run_corpus, 'ground_truth.jsonl')
    truth = _load_jsonl(gt_path) if os.path.exists(gt_path) else {}
    if corpus_dir is None and split != 'all':
      rows = [r for r in rows if r['split'] == split]
    modality, frame_rate = config.modality, meta.get('frame_rate')
    candidates = analyse_run(modality, frame_rate, rows, interviews, num_peaks=num_peaks,
                             tokenize=tokenize)
    run = {'workdir': workdir, 'modality': modality, 'variant': config.model.variant,
           'num_candidates': len(candidates)}
    run.update(summarise_run(modality, frame_rate, candidates, truth, out_dir=out_dir,
                             top_k=top_k))
    per_modality[modality] = {'run': run, 'candidates': candidates,
                              'by_id': {c['candidate_id']: c for c in candidates}}
    summary['runs'][modality] = run

  all_candidates = [c for r in per_modality.values() for c in r['candidates']]
  if candidate_id is not None:
    if not any(c['candidate_id'] == candidate_id for c in all_candidates):
      raise ConfigError(f'candidate {candidate_id} is not among the scored candidates')
    chosen = [candidate_id]
  else:
    chosen = sorted({c['candidate_id'] for c in all_candidates})[:num_reports]
  position = position_id
  if position is None and candidate_id:  # The reported candidate's position.
    position = next(c['position_id'] for c in all_candidates
                    if c['candidate_id'] == candidate_id)
  elif position is None and all_candidates:  # The best-represented position.
    position = collections.Counter(
        c['position_id'] for c in all_candidates).most_common(1)[0][0]
  if position is not None:  # Figure 3: one position, every modality.
    summary['question_attention_by_position'] = position_figure(
        per_modality, position, out_dir)
  answer_curves(per_modality, chosen, out_dir)  # Figure 2 (audio, video).

  reports = write_reports(out_dir, per_modality, chosen, truth)
  summary['candidates'] = {m: r['candidates'] for m, r in per_modality.items()}
  with open(os.path.join(out_dir, 'explain.json'), 'w', encoding='utf-8') as f:
    json.dump(summary, f, ensure_ascii=False)
  return {**summary, 'reports': reports}


def format_summary(summary: dict) -> str:
  """The lines a person reads first: per run its top words and its cue hit rates."""
  lines = []
  for modality, run in summary['runs'].items():
    lines.append(f'{modality} / {run["variant"]}: {run["num_candidates"]} candidates')
    if 'top_words' in run:
      lines.append('  top words: ' + ', '.join(f'{w["word"]} ({w["importance"]:.2f})'
                                               for w in run['top_words'][:10]))
    if 'ground_truth' in run:
      a = run['ground_truth']['answer_peak_in_cue_span']
      q = run['ground_truth']['question_peak_on_key_answer']
      lines.append(f'  attention peak inside the planted cue span: {a["rate"]:.3f} '
                   f'of {a["total"]} key answers (chance {a["chance"]:.3f})')
      lines.append(f'  most attended answer is a key answer: {q["rate"]:.3f} '
                   f'of {q["total"]} interviews (chance {q["chance"]:.3f})')
  return '\n'.join(lines)
