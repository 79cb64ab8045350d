"""Attention analysis of a scored run: the paper's attention figures per candidate, their
agreement with a synthetic corpus's planted cues, and the per-candidate HTML reports.

`experiments.explain` wires it: it scores a corpus with a run and passes the rows here.
"""

from __future__ import annotations

import collections
import os
from typing import Callable

import numpy as np

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
