"""A whole MockLLM experiment: the generation runs the variants need, their evaluation,
and Table 2, Table 3, Figure 5, transcripts and the HireNet export, for one or more seeds.

Variants (paper, Table 2 and Figure 5):
  mockllm  the full loop, k = `num_cases` retrieved cases
  wo_mi    the same interviews, each side deciding from the documents' scores alone
  wo_rp    no reflection, no memory
  wo_su    cases stored and retrieved, strategies kept at m_0
  k0..k3   the full loop with k retrieved cases (k = `num_cases` reuses mockllm's run)
A seed orders the training pairs (the memory evolves in that order) and seeds sampling.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import json
import logging
import os
from typing import Callable, Sequence

import numpy as np

from hirenet_jax.core import ranking
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm.api import LanguageModel
from hirenet_jax.mockllm import evaluation
from hirenet_jax.mockllm import generation_metrics
from hirenet_jax.mockllm import loop
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import SPLITS

VARIANTS = ('mockllm', 'wo_mi', 'wo_rp', 'wo_su', 'k0', 'k1', 'k2', 'k3')
ROW_NAMES = {'mockllm': 'MockLLM', 'learned': 'MockLLM, learned scorers',
             'wo_mi': 'MockLLM w/o MI', 'wo_rp': 'MockLLM w/o RP',
             'wo_su': 'MockLLM w/o SU'}
TABLE2_COLUMNS = tuple(f'{side}_{m}' for side in ('job', 'candidate')
                       for m in ranking.metric_names()) + (
                           'macro_precision', 'macro_recall', 'macro_f1')


def run_plan(variants: Sequence[str], num_cases: int) -> dict[str, dict]:
  """The generation runs the variants need: run name -> LoopConfig changes."""
  runs = {}
  for v in variants:
    if v not in VARIANTS:
      raise ValueError(f'unknown variant {v!r}; expected some of {", ".join(VARIANTS)}')
    if v in ('mockllm', 'wo_mi') or v == f'k{num_cases}':
      runs['mockllm'] = {'num_cases': num_cases}
    elif v == 'wo_rp':
      runs['wo_rp'] = {'reflection': False, 'num_cases': 0}
    elif v == 'wo_su':
      runs['wo_su'] = {'strategy_updates': False, 'num_cases': num_cases}
    else:
      runs[v] = {'num_cases': int(v[1:])}
  return runs


def subsample(corpus: Corpus, max_pairs: int | None, seed: int) -> Corpus:
  """At most `max_pairs` pairs, drawn by whole candidates: every pair of a drawn candidate
  whatever its split, so it keeps all its jobs (the candidate-side ranking needs them) and,
  on a warm split, an evaluated candidate keeps its training pairs. Candidates are drawn
  per kind in proportion to their pairs; a candidate's kind is the most held-out split it
  has pairs in (test, then validation, then train), its own split on a by-candidate split.
  """
  if not max_pairs or max_pairs >= len(corpus.pairs):
    return corpus
  rng = np.random.default_rng(seed)
  groups = corpus.by_candidate()
  kind = {cid: max((p.split for p in group), key=SPLITS.index)
          for cid, group in groups.items()}
  kept = []
  for split in SPLITS:
    members = sorted(cid for cid in groups if kind[cid] == split)
    budget = round(max_pairs * sum(len(groups[c]) for c in members) / len(corpus.pairs))
    for cid in rng.permutation(members):
      if budget <= 0:
        break
      kept += groups[cid]
      budget -= len(groups[cid])
  return dataclasses.replace(corpus, pairs=kept)


def _ordered(pairs: list[Pair], seed: int) -> list[Pair]:
  order = np.random.default_rng(seed).permutation(len(pairs))
  return [pairs[i] for i in order]


def _write_csv(path: str, rows: Sequence[dict]) -> None:
  if not rows:
    return
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def quality(interviews: Sequence[loop.Interview], corpus: Corpus) -> dict[str, float]:
  return generation_metrics.interview_quality(
      [[(t.question, t.answer) for t in i.dialogue] for i in interviews],
      [corpus.resumes[i.candidate_id].text for i in interviews])


def run_seed(model: LanguageModel, corpus: Corpus, workdir: str, *, seed: int,
             variants: Sequence[str], base: loop.LoopConfig,
             progress: Callable[[str, int], Callable[[int], None]] | None = None) -> dict:
  """Every generation run and variant of one seed; returns its results."""
  pairs = {(p.candidate_id, p.job_id): p for p in corpus.pairs}
  runs = run_plan(variants, base.num_cases)
  interviews, out = {}, {'variants': {}, 'generation': {}}
  for name, changes in runs.items():
    config = dataclasses.replace(base, seed=seed, **changes)
    run_dir = os.path.join(workdir, 'runs', name)
    runner = loop.MockInterviewer(model, corpus, config, run_dir)
    train = _ordered(corpus.split('train'), seed)
    rest = corpus.split('validation') + corpus.split('test')
    tick = progress(f'seed {seed} {name}', len(train) + len(rest)) if progress else None
    runner.run(train, learn=True, progress=tick)
    runner.run(rest, learn=False, progress=tick)
    interviews[name] = runner.interviews
    out['generation'][name] = {
        **quality([i for i in runner.interviews if i.split == 'test'], corpus),
        'memory_cases': len(runner.memories['interviewer'].cases),
        'unparsed_judgements': sum(i.unparsed_judgements for i in runner.interviews)}
  for v in variants:
    run = 'mockllm' if v in ('mockllm', 'wo_mi') or v == f'k{base.num_cases}' else v
    add_variant(out, v, interviews[run], pairs, workdir, use_dialogue=v != 'wo_mi')
  return out


def add_variant(out: dict, name: str, interviews: Sequence[loop.Interview],
                pairs: dict[tuple[str, str], Pair], workdir: str, *,
                use_dialogue: bool = True) -> None:
  """Evaluates one variant's interviews into `out` and its workdir (decisions.csv)."""
  results, rows = evaluation.evaluate(interviews, pairs, use_dialogue=use_dialogue)
  out['variants'][name] = results
  vdir = os.path.join(workdir, 'variants', name)
  os.makedirs(vdir, exist_ok=True)
  _write_csv(os.path.join(vdir, 'decisions.csv'), rows)
  with open(os.path.join(vdir, 'results.json'), 'w', encoding='utf-8') as f:
    json.dump(results, f, indent=1)


def rescored(interviews: Sequence[loop.Interview],
             scores: dict[str, dict[tuple[str, str], float]]) -> list[loop.Interview]:
  """Copies of `interviews` with some scores replaced ({'s_q': {(cid, jid): value}})."""
  out = []
  for i in interviews:
    new = dict(i.scores)
    for key, table in scores.items():
      new[key] = table[(i.candidate_id, i.job_id)]
    out.append(dataclasses.replace(i, scores=new))
  return out


# ---------------------------------------------------------------- reports

def _mean_std(values: Sequence[float]) -> tuple[float, float]:
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def table2(per_seed: Sequence[dict], corpus: Corpus, baselines: Sequence[dict] = (),
           split: str = 'test') -> list[dict]:
  """Table 2 rows (mean and std over seeds): the exact random ranking, the PJF baselines
  given, then MockLLM and its ablations."""
  test = corpus.split(split)
  random = {'model': 'Random ranking (exact)', 'seeds': 0}
  for side in ('job', 'candidate'):
    metrics = ranking.pjf_random_metrics(test, side)
    for m in ranking.metric_names():
      random[f'{side}_{m}'] = (metrics[m], 0.0)
  for m in ('macro_precision', 'macro_recall', 'macro_f1'):
    random[m] = (float('nan'), 0.0)
  rows = [random, *baselines]
  for v in ('mockllm', 'learned', 'wo_mi', 'wo_rp', 'wo_su'):
    found = [s['variants'][v] for s in per_seed if v in s['variants']]
    if not found:
      continue
    cells = [evaluation.table_row(v, r, split) for r in found]
    row = {'model': ROW_NAMES[v], 'seeds': len(found)}
    for c in TABLE2_COLUMNS:
      row[c] = _mean_std([x[c] for x in cells])
    rows.append(row)
  return rows


def _fmt(cell, seeds) -> str:
  """mean ± std over seeds (the std shown whenever there are several seeds)."""
  mean, std = cell
  if mean != mean:  # NaN
    return '-'
  return f'{mean:.3f} ± {std:.3f}' if isinstance(seeds, int) and seeds > 1 else f'{mean:.3f}'


def table_markdown(title: str, rows: Sequence[dict], columns: Sequence[str]) -> str:
  head = ['model', 'seeds', *columns]
  lines = [f'**{title}**', '', '| ' + ' | '.join(head) + ' |',
           '|' + '---|' * len(head)]
  for r in rows:
    seeds = r.get('seeds', '')
    seeds = int(seeds) if str(seeds).isdigit() else seeds
    lines.append('| ' + ' | '.join([r['model'], str(seeds)]
                                   + [_fmt(r[c], seeds) for c in columns]) + ' |')
  return '\n'.join(lines) + '\n'


def table_csv(path: str, rows: Sequence[dict], columns: Sequence[str]) -> None:
  flat = []
  for r in rows:
    row = {'model': r['model'], 'seeds': r.get('seeds', '')}
    for c in columns:
      row[c], row[f'{c}_std'] = r[c]
    flat.append(row)
  _write_csv(path, flat)


def table3(per_seed: Sequence[dict]) -> tuple[list[dict], list[str]]:
  names = [n for n in per_seed[0]['generation']]
  columns = [c for c in per_seed[0]['generation'][names[0]]]
  rows = []
  for name in names:
    row = {'model': ROW_NAMES.get(name, f'MockLLM k={name[1:]}'), 'seeds': len(per_seed)}
    for c in columns:
      row[c] = _mean_std([s['generation'][name][c] for s in per_seed])
    rows.append(row)
  return rows, columns


def figure5(per_seed: Sequence[dict], num_cases: int, path: str, label: str) -> bool:
  """Figure 5: job- and candidate-side NDCG@5 and macro F1 against k; False when the k
  sweep was not run."""
  ks = [k for k in range(4) if all(
      (f'k{k}' in s['variants']) or (k == num_cases and 'mockllm' in s['variants'])
      for s in per_seed)]
  if len(ks) < 2:
    return False
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(5, 3.5))
  for column, name in (('job_ndcg@5', 'job NDCG@5'), ('candidate_ndcg@5', 'candidate NDCG@5'),
                       ('macro_f1', 'macro F1')):
    means, stds = [], []
    for k in ks:
      v = f'k{k}' if any(f'k{k}' in s['variants'] for s in per_seed) else 'mockllm'
      values = [evaluation.table_row(v, s['variants'][v])[column] for s in per_seed]
      means.append(np.mean(values))
      stds.append(np.std(values))
    ax.errorbar(ks, means, yerr=stds, marker='o', capsize=3, label=name)
  ax.set_xlabel('retrieved cases k')
  ax.set_xticks(ks)
  ax.set_title(f'Figure 5: retrieved cases ({label})', fontsize=9)
  ax.legend(fontsize=8, loc='center right')
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return True


def write_transcripts(interviews: Sequence[loop.Interview], corpus: Corpus, out_dir: str,
                      label: str, decisions: dict[tuple[str, str], dict],
                      limit: int = 20,
                      attention: dict[tuple[str, str], list[float]] | None = None
                      ) -> list[str]:
  """An HTML page per pair: job, resume, strategies, retrieved cases, the dialogue (with
  HireNet's question attention when given: each question shaded by its weight), the four
  scores, E both ways and the handshake against the recorded decisions."""
  os.makedirs(out_dir, exist_ok=True)
  paths = []
  for i in list(interviews)[:limit]:
    d = decisions.get((i.candidate_id, i.job_id), {})
    job, resume = corpus.jobs[i.job_id], corpus.resumes[i.candidate_id]
    weights = (attention or {}).get((i.candidate_id, i.job_id))
    turns = ''
    for n, t in enumerate(i.dialogue):
      shade = ''
      if weights and n < len(weights):
        shade = (f' style="background: rgba(255, 140, 0, {weights[n]:.2f})" '
                 f'title="HireNet question attention {weights[n]:.2f}"')
      turns += (f'<p{shade}><b>Interviewer:</b> {html.escape(t.question)}<br>'
                f'<b>Candidate:</b> {html.escape(t.answer)}</p>')
    scores = ''.join(f'<tr><td>{html.escape(k)}</td><td>{v}</td></tr>'
                     for k, v in d.items() if k not in ('candidate_id', 'job_id'))
    page = (f'<html><head><meta charset="utf-8"><title>{i.candidate_id} / {i.job_id}'
            f'</title></head><body><h2>{i.candidate_id} applying to {i.job_id}: '
            f'{html.escape(job.title)}</h2><p><i>Generated by {html.escape(label)}.</i></p>'
            f'<h3>Dialogue</h3>{turns}<h3>Decisions</h3><table>{scores}</table>'
            f'<h3>Strategies</h3><p>Interviewer: {html.escape(i.interviewer_strategy)}<br>'
            f'Candidate: {html.escape(i.candidate_strategy)}</p>'
            f'<p>Retrieved cases: interviewer {", ".join(i.interviewer_cases) or "none"}; '
            f'candidate {", ".join(i.candidate_cases) or "none"}</p>'
            f'<h3>Job description</h3><pre>{html.escape(job.description)}</pre>'
            f'<h3>Resume</h3><pre>{html.escape(resume.text)}</pre></body></html>')
    path = os.path.join(out_dir, f'{i.candidate_id}__{i.job_id}.html')
    with open(path, 'w', encoding='utf-8') as f:
      f.write(page)
    paths.append(path)
  return paths


def export_hirenet_corpus(interviews: Sequence[loop.Interview], corpus: Corpus,
                          out_dir: str, label: str = 'job_accepts') -> str:
  """The generated interviews as a HireNet corpus (docs/corpus_format.md): one candidate
  per pair, the questions and answers as its answers, the job title as its context, the
  pair's `label` side as its label and its split; `data_prep.hirenet.validate` and
  `experiments.train --corpus_dir --config.split=given` read it."""
  pairs = {(p.candidate_id, p.job_id): p for p in corpus.pairs}
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, 'interviews.jsonl')
  with open(path, 'w', encoding='utf-8') as f:
    for i in interviews:
      if not i.dialogue:
        continue
      pair = pairs[(i.candidate_id, i.job_id)]
      f.write(json.dumps({
          'candidate_id': f'{i.candidate_id}__{i.job_id}', 'position_id': i.job_id,
          'job_title': corpus.jobs[i.job_id].title, 'label': int(getattr(pair, label)),
          'split': i.split,
          'answers': [{'question': t.question, 'transcript': t.answer or '.'}
                      for t in i.dialogue]}, ensure_ascii=False) + '\n')
  logging.info('Exported %d interviews to %s.', len(interviews), path)
  return path


def read_pjf_scores(path: str, pairs: Sequence[Pair]
                    ) -> dict[str, dict[tuple[str, str], float]]:
  """S_r and S_j from a person-job-fit model's scores.csv (experiments.pjf)."""
  with open(path, encoding='utf-8') as f:
    rows = {(r['candidate_id'], r['job_id']): r for r in csv.DictReader(f)}
  missing = [f'{p.candidate_id}|{p.job_id}' for p in pairs
             if (p.candidate_id, p.job_id) not in rows]
  if missing:
    raise ConfigError(f'{path}: no score for {len(missing)} pairs of the corpus (first: '
                      f'{", ".join(missing[:3])}); score the same corpus')
  return {'s_r': {k: float(r['job_score']) for k, r in rows.items()},
          's_j': {k: float(r['candidate_score']) for k, r in rows.items()}}


def read_baseline_rows(grid_dir: str) -> list[dict]:
  """Table 2 baseline rows from experiments.pjf_grid's table2_baselines.csv, in our
  column names (its random row is left out: ours is computed on the same pairs)."""
  from hirenet_jax.pjf import table  # pylint: disable=g-import-not-at-top
  path = os.path.join(grid_dir, 'table2_baselines.csv')
  if not os.path.exists(path):
    raise ConfigError(f'{path}: not found (run python -m experiments.pjf_grid '
                      f'--workdir={grid_dir} first)')
  ours = {title: (f'macro_{key}' if group == 'handshake' else f'{group}_{key}')
          for group, key, title in table.columns()}
  rows = []
  with open(path, encoding='utf-8') as f:
    for r in csv.DictReader(f):
      if r['method'] == table.RANDOM_ROW:
        continue
      row = {'model': r['method'], 'seeds': int(r['num_seeds'])}
      for title, column in ours.items():
        row[column] = (float(r.get(f'{title} mean') or 'nan'),
                       float(r.get(f'{title} std') or 0))
      rows.append(row)
  return rows
