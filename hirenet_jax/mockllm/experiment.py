"""A whole MockLLM experiment: the generation runs the variants need, their evaluation,
and Table 2, Table 3, Figure 5, transcripts and the HireNet export, for one or more seeds.

Variants (paper, Table 2 and Figure 5):
  mockllm  the full loop, k = `num_cases` retrieved cases
  wo_mi    the same interviews, each side deciding from the documents' scores alone
  wo_rp    no reflection, no memory
  wo_su    cases stored and retrieved, strategies kept at m_0
  k0..k3   the full loop with k retrieved cases (k = `num_cases` reuses mockllm's run)
and, added by the command when HireNet is trained as a scorer:
  learned        HireNet's scores as S_q and S_a, read from the mockllm run's interviews
  learned_wo_mi  the same HireNet reading the resume and the job alone (no interview)
A seed orders the training pairs (the memory evolves in that order) and seeds sampling.
Every table and page names the backend and model that played the roles; those of the
scripted test double say that they are the double's.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import json
import logging
import os
import re
from typing import Callable, Sequence

import numpy as np

from hirenet_jax.core import fairness
from hirenet_jax.core import ranking
from hirenet_jax.core import significance
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm.api import LanguageModel
from hirenet_jax.mockllm import evaluation
from hirenet_jax.mockllm import generation_metrics
from hirenet_jax.mockllm import loop
from hirenet_jax.mockllm import prompts
from hirenet_jax.mockllm import scripted
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import SPLITS

VARIANTS = ('mockllm', 'wo_mi', 'wo_rp', 'wo_su', 'k0', 'k1', 'k2', 'k3')
ROW_NAMES = {'mockllm': 'MockLLM', 'learned': 'MockLLM, learned scorers',
             'learned_wo_mi': 'MockLLM, learned scorers w/o MI',
             'wo_mi': 'MockLLM w/o MI', 'wo_rp': 'MockLLM w/o RP',
             'wo_su': 'MockLLM w/o SU'}
# The paper's row order: baselines, the ablations, MockLLM last; ours adds the learned
# scorers (without, then with the interview) after it.
TABLE2_VARIANTS = ('wo_mi', 'wo_su', 'wo_rp', 'mockllm', 'learned_wo_mi', 'learned')
# The paper's column order: Candidates, Jobs, Both Sides.
TABLE2_COLUMNS = tuple(f'{side}_{m}' for side in ('candidate', 'job')
                       for m in ranking.metric_names()) + (
                           'macro_precision', 'macro_recall', 'macro_f1')
TABLE2_HEADERS = dict(zip(TABLE2_COLUMNS, [
    f'{who} {m}' for who in ('Candidates', 'Jobs')
    for m in ('NDCG@5', 'R@5', 'P@5', 'MRR@5')] + [
        'Both Precision', 'Both Recall', 'Both F1']))
# Paired tests of Table 2: (row, against), in this order; 'baseline' is the best PJF
# baseline of each side.
COMPARISONS = (('mockllm', 'wo_mi'), ('mockllm', 'wo_rp'), ('mockllm', 'wo_su'),
               ('mockllm', 'baseline'), ('learned', 'learned_wo_mi'))


def table_title(what: str, label: str, seeds: Sequence[int] | None = None) -> str:
  """A table's title naming who played the roles; the scripted test double's say so
  first, so that no figure of it passes for a language model's."""
  out = f'{what}: test pairs' + (f', seeds {",".join(map(str, seeds))}' if seeds else '')
  out += f'; roles played by {label}'
  if scripted.is_test_double(label):
    out = ('Test double, not a language model. ' + out + '. Its figures measure the '
           'loop on the text it was written to read (docs/mockllm.md)')
  return out


def public_config(config: dict) -> dict:
  """`config` as results.json may show it: a field named api_key, at any depth, says only
  whether it was set (the key itself is a secret)."""
  out = {}
  for key, value in config.items():
    if isinstance(value, dict):
      out[key] = public_config(value)
    elif key == 'api_key':
      out[key] = '(set)' if value else None
    else:
      out[key] = value
  return out


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


def subsample(corpus: Corpus, max_pairs: int | None, seed: int, *,
              held_out_only: bool = False) -> Corpus:
  """At most `max_pairs` pairs, drawn by whole candidates: every pair of a drawn candidate
  whatever its split, so it keeps all its jobs (the candidate-side ranking needs them) and,
  on a warm split, an evaluated candidate keeps its training pairs. Candidates are drawn
  per kind in proportion to their pairs; a candidate's kind is the most held-out split it
  has pairs in (test, then validation, then train), its own split on a by-candidate split.
  `held_out_only` draws no candidate of the train kind: on a warm split the training pairs
  are then those of the evaluated candidates only, the cheapest draw for a given number
  of test pairs (a ConfigError where that leaves no training pair).
  """
  if not max_pairs or max_pairs >= len(corpus.pairs):
    return corpus
  rng = np.random.default_rng(seed)
  groups = corpus.by_candidate()
  kind = {cid: max((p.split for p in group), key=SPLITS.index)
          for cid, group in groups.items()}
  kinds = [s for s in SPLITS if s != 'train'] if held_out_only else list(SPLITS)
  pool = sum(len(g) for cid, g in groups.items() if kind[cid] in kinds)
  kept = []
  for split in kinds:
    members = sorted(cid for cid in groups if kind[cid] == split)
    budget = round(max_pairs * sum(len(groups[c]) for c in members) / pool)
    for cid in rng.permutation(members):
      if budget <= 0:
        break
      kept += groups[cid]
      budget -= len(groups[cid])
  if held_out_only and not any(p.split == 'train' for p in kept):
    raise ConfigError('config.held_out_only draws only validation and test candidates, '
                      'and on this corpus they have no training pairs (a by-candidate '
                      'split); drop it or use a corpus with a warm split')
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
  interviews, out = {}, {'variants': {}, 'generation': {}, 'timing': {}}
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
    out['timing'][name] = {'interviews': len(runner.interviews), 'seconds': runner.seconds}
  for v in variants:
    run = 'mockllm' if v in ('mockllm', 'wo_mi') or v == f'k{base.num_cases}' else v
    add_variant(out, v, interviews[run], pairs, workdir, use_dialogue=v != 'wo_mi',
                attributes=resume_attributes(corpus))
  return out


def resume_attributes(corpus: Corpus) -> dict[str, dict]:
  """{candidate_id: group attributes} of the resumes that carry some (for audits)."""
  return {c: r.attributes for c, r in corpus.resumes.items() if r.attributes}


def add_variant(out: dict, name: str, interviews: Sequence[loop.Interview],
                pairs: dict[tuple[str, str], Pair], workdir: str, *,
                use_dialogue: bool = True, attributes: dict[str, dict] | None = None
                ) -> None:
  """Evaluates one variant's interviews into `out` and its workdir (decisions.csv, with
  an `attr_<name>` column per group attribute of the resumes: `attributes`)."""
  results, rows = evaluation.evaluate(interviews, pairs, use_dialogue=use_dialogue)
  attributes = attributes or {}
  names = fairness.attribute_names(list(attributes.values()))
  for row in rows:
    row.update(fairness.attribute_columns(attributes.get(row['candidate_id'], {}), names))
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
  """Table 2 rows (mean and std over seeds) in the paper's order: the exact random
  ranking, the PJF baselines given, the ablations, MockLLM, then the learned scorers."""
  test = corpus.split(split)
  random = {'model': 'Random ranking (exact)', 'seeds': 0}
  for side in ('job', 'candidate'):
    metrics = ranking.pjf_random_metrics(test, side)
    for m in ranking.metric_names():
      random[f'{side}_{m}'] = (metrics[m], 0.0)
  for m in ('macro_precision', 'macro_recall', 'macro_f1'):
    random[m] = (float('nan'), 0.0)
  rows = [random, *baselines]
  for v in TABLE2_VARIANTS:
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


def table_markdown(title: str, rows: Sequence[dict], columns: Sequence[str],
                   headers: dict[str, str] | None = None) -> str:
  """A titled markdown table of `rows`' mean ± std cells; `headers` renames columns."""
  head = ['model', 'seeds', *[(headers or {}).get(c, c) for c in columns]]
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


def timing_markdown(per_seed: Sequence[dict]) -> str:
  """One line per generation run: its interviews and the seconds its chunks took, summed
  over seeds and resumes (a replay from the response cache counts its own time)."""
  lines = []
  for name in per_seed[0]['timing']:
    n = sum(s['timing'][name]['interviews'] for s in per_seed)
    seconds = sum(s['timing'][name]['seconds'] for s in per_seed)
    rate = f', {n * 3600 / seconds:.0f} an hour' if seconds > 0 else ''
    lines.append(f'- {ROW_NAMES.get(name, name)}: {n} interviews in {seconds / 3600:.2f} h'
                 f'{rate}')
  return ('\nGeneration time (the generation runs\' chunks, summed over seeds and '
          'resumes):\n\n' + '\n'.join(lines) + '\n')


# ---------------------------------------------------------------- paired tests

def _side_scores(decisions: dict, pairs: dict[tuple[str, str], Pair], side: str,
                 metric: str) -> dict[str, float]:
  """Per-group `metric` of one side from a split's decisions (evaluation.evaluate):
  {candidate or job id: value}, groups without a positive left out."""
  keyed = [pairs[(c, j)] for c, j in zip(decisions['candidate_id'], decisions['job_id'])]
  groups, labels = ranking.side_groups_and_labels(keyed, side)
  scores = decisions['e_candidate' if side == 'candidate' else 'e_interviewer']
  return {g: m[metric] for g, m in ranking.per_group_metrics(groups, scores, labels).items()
          if m is not None}


def _seed_mean(per_seed: Sequence[dict[str, float]]) -> dict[str, float]:
  """Each group's value averaged over seeds (groups every seed has)."""
  common = set.intersection(*(set(d) for d in per_seed))
  return {g: float(np.mean([d[g] for d in per_seed])) for g in sorted(common)}


def _handshakes(decisions: Sequence[dict], pairs: dict[tuple[str, str], Pair]
                ) -> dict[tuple[int, str, str], tuple[int, int]]:
  """{(seed index, candidate, job): (handshake, recorded match)} over seeds."""
  out = {}
  for n, d in enumerate(decisions):
    for c, j, h in zip(d['candidate_id'], d['job_id'], d['handshake']):
      out[(n, c, j)] = (int(h), int(pairs[(c, j)].match))
  return out


def _macro_f1(labels_N, predictions_N) -> float:
  return ranking.macro_prf(labels_N, predictions_N)['f1']


def paired_tests(per_seed: Sequence[dict], corpus: Corpus,
                 baselines: dict[str, list[dict]] | None = None, split: str = 'test',
                 metric: str = 'ndcg@5', num_samples: int = 20000, seed: int = 0
                 ) -> list[dict]:
  """Table 2's significance: each of COMPARISONS whose two rows were run.

  Per side: a sign-flip test over the split's groups (candidates, jobs) of their
  per-group `metric`, each averaged over seeds, with a bootstrap 95% interval of the
  difference. The handshake's macro F1: a swap test over every seed's pairs pooled (a
  seed's decision for a pair against the other row's same seed). `baselines`
  ({row name: [decisions per seed]}, `read_baseline_decisions`) are compared on the side
  where each is best (no macro F1: their scores carry no thresholds).
  """
  pairs = {(p.candidate_id, p.job_id): p for p in corpus.pairs}

  def decisions_of(variant):
    found = [s['variants'][variant][split]['decisions'] for s in per_seed
             if variant in s['variants']]
    return found if len(found) == len(per_seed) else None

  rows = []
  for mine, other in COMPARISONS:
    a = decisions_of(mine)
    if a is None:
      continue
    per_side, names = {}, []
    for side in ('candidate', 'job'):
      if other == 'baseline':
        if not baselines:
          break
        means = {name: np.mean(list(_seed_mean([_side_scores(d, pairs, side, metric)
                                                for d in found]).values()))
                 for name, found in baselines.items()}
        best = max(sorted(means), key=lambda name: means[name])
        b, b_name = baselines[best], best
        names.append(f'{"Candidates" if side == "candidate" else "Jobs"}: {best}')
      else:
        b, b_name = decisions_of(other), ROW_NAMES[other]
        if b is None:
          break
      x = _seed_mean([_side_scores(d, pairs, side, metric) for d in a])
      y = _seed_mean([_side_scores(d, pairs, side, metric) for d in b])
      groups = sorted(set(x) & set(y))
      x_G, y_G = [x[g] for g in groups], [y[g] for g in groups]
      per_side[side] = {
          **significance.sign_flip_test(x_G, y_G, num_samples=num_samples, seed=seed),
          'interval': significance.bootstrap_interval(x_G, y_G, seed=seed),
          'against': b_name}
    if len(per_side) < 2:
      continue
    row = {'comparison': f'{ROW_NAMES[mine]} vs ' + (
        f'best baseline ({"; ".join(names)})' if other == 'baseline' else ROW_NAMES[other]),
           'metric': metric, **{f'{side}_{metric}': v for side, v in per_side.items()}}
    if other != 'baseline':
      x, y = _handshakes(a, pairs), _handshakes(decisions_of(other), pairs)
      keys = sorted(set(x) & set(y))
      row['macro_f1'] = significance.swap_test(
          _macro_f1, [x[k][1] for k in keys], [x[k][0] for k in keys],
          [y[k][0] for k in keys], num_samples=max(1, num_samples // 4), seed=seed)
    rows.append(row)
  return rows


def _p(p: float) -> str:
  return f'{p:.4f}' if p >= 1e-4 else f'{p:.1e}'


def tests_markdown(heading: str, rows: Sequence[dict]) -> str:
  """The paired tests under Table 2: each difference (row minus the one compared), its
  bootstrap 95% interval and two-sided p-value."""
  if not rows:
    return ''
  metric = rows[0]['metric'].upper()
  head = ['comparison', f'Candidates {metric} difference [95% interval]', 'p',
          f'Jobs {metric} difference [95% interval]', 'p', 'Both F1 difference', 'p']
  lines = [f'**{heading}**', '', '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for r in rows:
    cells = [r['comparison']]
    for side in ('candidate', 'job'):
      t = r[f'{side}_{r["metric"]}']
      lo, hi = t['interval']
      cells += [f'{t["difference"]:+.3f} [{lo:+.3f}, {hi:+.3f}] ({t["num_groups"]} groups)',
                _p(t['p_value'])]
    f1 = r.get('macro_f1')
    cells += [f'{f1["difference"]:+.3f}', _p(f1['p_value'])] if f1 else ['-', '-']
    lines.append('| ' + ' | '.join(cells) + ' |')
  lines += ['', 'Two-sided paired tests. Per side: sign-flip permutation test over the test '
            'candidates (jobs) of their NDCG@5, each averaged over the seeds. Both F1: '
            'approximate randomisation, swapping the two rows\' handshakes pair by pair, '
            'the seeds\' test pairs pooled.']
  return '\n'.join(lines) + '\n'


def read_baseline_decisions(grid_dir: str, corpus: Corpus, split: str = 'test'
                            ) -> dict[str, list[dict]]:
  """{Table 2 row: [decisions per seed]} from experiments.pjf_grid's per-run scores.csv
  ({model}_s{seed}/), restricted to `corpus`'s `split` pairs, in the form
  evaluation.evaluate gives (e_interviewer: the job-side score, e_candidate: the
  candidate-side score; no handshake)."""
  from hirenet_jax.pjf import table  # pylint: disable=g-import-not-at-top
  from hirenet_jax.pjf import train_lib  # pylint: disable=g-import-not-at-top
  wanted = [(p.candidate_id, p.job_id) for p in corpus.split(split)]
  out: dict[str, list[dict]] = {}
  for run in sorted(os.listdir(grid_dir)) if os.path.isdir(grid_dir) else []:
    found = re.fullmatch(r'(\w+?)_s(\d+)', run)
    path = os.path.join(grid_dir, run, train_lib.SCORES_FILE)
    if not found or not os.path.exists(path):
      continue
    with open(path, encoding='utf-8') as f:
      rows = {(r['candidate_id'], r['job_id']): r for r in csv.DictReader(f)}
    if any(k not in rows for k in wanted):
      continue  # Scores of another corpus.
    out.setdefault(table.MODEL_ROWS.get(found.group(1), found.group(1)), []).append({
        'candidate_id': [c for c, _ in wanted], 'job_id': [j for _, j in wanted],
        'e_interviewer': [float(rows[k]['job_score']) for k in wanted],
        'e_candidate': [float(rows[k]['candidate_score']) for k in wanted]})
  return out


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


# What each figure of a pair's page means, one line each.
SCORE_HELP = {
    's_r': 'S_r (eq 5): the interviewer\'s fit of the resume to the job\'s requirements, '
           'before the interview; P(yes) of its judge.',
    's_q': 'S_q (eq 6): the interviewer\'s judgement of the answers in the interview '
           'against the resume and the job\'s requirements.',
    's_j': 'S_j (eq 8): the candidate\'s fit of their own resume to the job\'s '
           'requirements.',
    's_a': 'S_a (eq 9): the candidate\'s chance, judged after the interview, of obtaining '
           'the offer.',
    'e_interviewer': 'E interviewer to candidate (eq 7) = sigmoid(w_r S_r + w_q S_q + b), '
                     'weights fit on the training pairs.',
    'e_candidate': 'E candidate to interviewer (eq 10) = sigmoid(w_j S_j + w_a S_a + b).',
    'handshake': 'Handshake (eq 11): 1 when both E pass their thresholds (fit on the '
                 'validation pairs).',
    'job_accepts': 'Recorded: the job accepted the candidate.',
    'candidate_accepts': 'Recorded: the candidate accepted the job.',
    'match': 'Recorded: both accepted.',
}
_SHOWN = ('s_r', 's_q', 's_j', 's_a', 'e_interviewer', 'e_candidate', 'handshake',
          'job_accepts', 'candidate_accepts', 'match')
_CSS = ('body{font-family:sans-serif;max-width:62em;margin:1em auto;padding:0 1em;'
        'line-height:1.45}pre,.doc{white-space:pre-wrap;overflow-wrap:anywhere;'
        'background:#f6f6f6;padding:.6em;max-width:100%}td{padding:2px 10px;'
        'vertical-align:top}td.v{text-align:right;font-variant-numeric:tabular-nums}'
        '.turn{border-left:4px solid #ccc;margin:.6em 0;padding:.2em .8em}'
        '.moved{border-left-color:#c0392b;background:#fdf0ee}.note{color:#555}'
        'small{color:#666}td.pair{white-space:nowrap}')


def _cell(value) -> str:
  """A figure rounded to 3 decimals; integers and text as they are."""
  try:
    number = float(value)
  except (TypeError, ValueError):
    return html.escape(str(value))
  return str(int(number)) if number.is_integer() and abs(number) < 1e9 else f'{number:.3f}'


def judge_after_each_turn(model: LanguageModel, interviews: Sequence[loop.Interview],
                          corpus: Corpus) -> dict[tuple[str, str], list[float]]:
  """S_q of each interview judged on its first t turns, t = 0..n (t = 0: no answer yet;
  t = n is the S_q the run stored): n more judgements per interview, asked of the same
  model, which is cheap for the few pairs that get a page."""
  chats, starts = [], []
  for i in interviews:
    job, resume = corpus.jobs[i.job_id].description, corpus.resumes[i.candidate_id].text
    starts.append(len(chats))
    chats += [prompts.evaluate_interview(job, resume, i.dialogue[:t])
              for t in range(len(i.dialogue))]
  values, _ = loop.judge(model, chats)
  return {(i.candidate_id, i.job_id): values[start:start + len(i.dialogue)] + [i.scores['s_q']]
          for i, start in zip(interviews, starts)}


def most_moving_turn(s_q_after: Sequence[float]) -> int | None:
  """0-based index of the turn whose answer changed S_q the most (largest |S_q after it
  - S_q before it|, the earlier on ties), None without a turn."""
  moves = np.abs(np.diff(np.asarray(s_q_after, np.float64)))
  return int(np.argmax(moves)) if moves.size else None


def write_transcripts(interviews: Sequence[loop.Interview], corpus: Corpus, out_dir: str,
                      label: str, decisions: dict[tuple[str, str], dict],
                      limit: int = 20,
                      attention: dict[tuple[str, str], list[float]] | None = None,
                      s_q_after: dict[tuple[str, str], list[float]] | None = None
                      ) -> list[str]:
  """An HTML page per pair and an index.html linking them all.

  A page shows the pair's figures rounded to 3 decimals, each with one line saying what
  it is (SCORE_HELP); the dialogue, with HireNet's question attention shading each turn
  when `attention` is given; with `s_q_after` (judge_after_each_turn), S_q after every
  turn and a mark on the turn whose answer moved the judge's S_q the most; then the
  strategies, retrieved cases, job description and resume, wrapped to the page.
  """
  os.makedirs(out_dir, exist_ok=True)
  paths, index_rows = [], []
  double = scripted.is_test_double(label)
  note = (' That is the scripted test double, not a language model (docs/mockllm.md).'
          if double else '')
  for i in list(interviews)[:limit]:
    key = (i.candidate_id, i.job_id)
    d = decisions.get(key, {})
    job, resume = corpus.jobs[i.job_id], corpus.resumes[i.candidate_id]
    weights = (attention or {}).get(key)
    trace = (s_q_after or {}).get(key)
    moved = most_moving_turn(trace) if trace else None
    turns = ''
    for n, t in enumerate(i.dialogue):
      style = ''
      if weights and n < len(weights):
        style = (f' style="background: rgba(255, 140, 0, {weights[n]:.2f})" '
                 f'title="HireNet question attention {weights[n]:.2f}"')
      after = ''
      if trace:
        after = (f'<br><small>S_q after this turn: {trace[n + 1]:.3f} '
                 f'({trace[n + 1] - trace[n]:+.3f})'
                 + ('; <b>the answer that moved S_q most</b>' if n == moved else '')
                 + '</small>')
      turns += (f'<div class="turn{" moved" if n == moved else ""}"{style}>'
                f'<b>Interviewer:</b> {html.escape(t.question)}<br>'
                f'<b>Candidate:</b> {html.escape(t.answer)}{after}</div>')
    if trace:
      turns = (f'<p class="note">S_q judged on no answer yet: {trace[0]:.3f}. Each turn '
               'shows S_q judged on the interview up to it; the marked turn is the one '
               'whose answer changed it the most.</p>' + turns)
    scores = ''.join(f'<tr><td>{k}</td><td class="v">{_cell(d[k])}</td>'
                     f'<td>{html.escape(SCORE_HELP[k])}</td></tr>'
                     for k in _SHOWN if k in d)
    cases = (f'interviewer {html.escape(", ".join(i.interviewer_cases)) or "none"}; '
             f'candidate {html.escape(", ".join(i.candidate_cases)) or "none"} (each from '
             'its own memory of matched training interviews)')
    page = (f'<!doctype html><html><head><meta charset="utf-8"><title>{i.candidate_id} / '
            f'{i.job_id}</title><style>{_CSS}</style></head><body>'
            f'<p><a href="index.html">all pairs</a></p>'
            f'<h2>{i.candidate_id} applying to {i.job_id}: {html.escape(job.title)}</h2>'
            f'<p class="note">Roles played by {html.escape(label)}.{note}</p>'
            f'<h3>Scores and decisions</h3><table>{scores}</table>'
            f'<h3>Dialogue</h3>{turns}'
            f'<h3>Strategies</h3><p>Interviewer: {html.escape(i.interviewer_strategy)}<br>'
            f'Candidate: {html.escape(i.candidate_strategy)}</p>'
            f'<p>Retrieved cases: {cases}</p>'
            f'<h3>Job description</h3><div class="doc">{html.escape(job.description)}</div>'
            f'<h3>Resume</h3><div class="doc">{html.escape(resume.text)}</div>'
            '</body></html>')
    name = f'{i.candidate_id}__{i.job_id}.html'
    path = os.path.join(out_dir, name)
    with open(path, 'w', encoding='utf-8') as f:
      f.write(page)
    paths.append(path)
    index_rows.append(f'<tr><td class="pair"><a href="{html.escape(name)}">{i.candidate_id} / '
                      f'{i.job_id}</a></td><td>{html.escape(job.title)}</td>'
                      + ''.join(f'<td class="v">{_cell(d.get(k, ""))}</td>' for k in _SHOWN)
                      + '</tr>')
  legend = ''.join(f'<li>{html.escape(SCORE_HELP[k])}</li>' for k in _SHOWN)
  index = (f'<!doctype html><html><head><meta charset="utf-8"><title>Transcripts</title>'
           f'<style>{_CSS}</style></head><body><h2>Transcripts ({len(paths)} test pairs)'
           f'</h2><p class="note">Roles played by {html.escape(label)}.{note}</p>'
           '<table><tr><th>pair</th><th>job</th>'
           + ''.join(f'<th>{k}</th>' for k in _SHOWN) + '</tr>' + ''.join(index_rows)
           + f'</table><ul>{legend}</ul></body></html>')
  with open(os.path.join(out_dir, 'index.html'), 'w', encoding='utf-8') as f:
    f.write(index)
  return paths


READINGS = ('interview', 'documents')
MAX_DOCUMENT_ANSWERS = 30  # reading='documents': the resume's first sentences kept.


def _resume_sentences(text: str) -> list[str]:
  parts = re.split(r'(?<=[.!?;])\s+|\n+', text)
  return [p.strip(' -*\u2022\t') for p in parts if len(p.split()) >= 3]


def export_hirenet_corpus(interviews: Sequence[loop.Interview], corpus: Corpus,
                          out_dir: str, label: str = 'job_accepts',
                          reading: str = 'interview') -> str:
  """The pairs as a HireNet corpus (docs/corpus_format.md): one candidate per pair, the
  job title as its context, the pair's `label` side as its label and its split;
  `data_prep.hirenet.validate` and `experiments.train --corpus_dir --config.split=given`
  read it.

  reading='interview': the generated questions and answers as its answers.
  reading='documents' (the learned scorer w/o MI): no interview; the resume's sentences
  (the first MAX_DOCUMENT_ANSWERS) as its answers, each asked by the whole job
  description as its question, so that the model reads the same two documents the
  interview was about and the interview is the only difference.
  """
  if reading not in READINGS:
    raise ValueError(f'reading must be one of {READINGS}, got {reading!r}')
  pairs = {(p.candidate_id, p.job_id): p for p in corpus.pairs}
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, 'interviews.jsonl')
  with open(path, 'w', encoding='utf-8') as f:
    for i in interviews:
      if reading == 'interview':
        answers = [{'question': t.question, 'transcript': t.answer or '.'}
                   for t in i.dialogue]
      else:
        job = ' '.join(corpus.jobs[i.job_id].description.split())
        answers = [{'question': job, 'transcript': sentence} for sentence in
                   _resume_sentences(corpus.resumes[i.candidate_id].text)
                   [:MAX_DOCUMENT_ANSWERS]]
      if not answers:
        continue
      pair = pairs[(i.candidate_id, i.job_id)]
      f.write(json.dumps({
          'candidate_id': f'{i.candidate_id}__{i.job_id}', 'position_id': i.job_id,
          'job_title': corpus.jobs[i.job_id].title, 'label': int(getattr(pair, label)),
          'split': i.split, 'answers': answers}, ensure_ascii=False) + '\n')
  logging.info('Exported %d pairs (%s) to %s.', len(interviews), reading, path)
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


# The learned scorers: (interviews, corpus, seed_dir, seed, epochs, reading=...) ->
# ({'s_q': {pair: score}, 's_a': ...}, {pair: question attention}); HireNet trained on
# the exported pairs (experiments/mockllm.py, which may prepare HireNet's data).
HireNetScores = Callable[..., tuple[dict, dict]]


def backend_options(config) -> 'backends.BackendOptions':
  """The BackendOptions of a MockLLM configuration's `backend` fields ('' = unset)."""
  from hirenet_jax.mockllm import backends  # pylint: disable=g-import-not-at-top
  b = config.backend
  return backends.BackendOptions(
      backend=b.name, gguf=b.gguf or None, weight_dtype=b.weight_dtype or None,
      base_url=b.base_url or None, model=b.model or None, server=b.server,
      api_key=b.api_key or None, api_key_file=b.api_key_file or None,
      max_concurrency=b.max_concurrency, timeout_s=b.timeout_s, max_batch=config.chunk_size,
      prefix_cache_mb=b.prefix_cache_mb)


def loop_config(config) -> loop.LoopConfig:
  """The generation settings of a MockLLM configuration (the paper's sampling)."""
  from hirenet_jax.llm.api import SamplingParams  # pylint: disable=g-import-not-at-top
  return loop.LoopConfig(
      num_turns=config.num_turns, num_cases=config.num_cases, chunk_size=config.chunk_size,
      retrieval=config.retrieval,
      dialogue=SamplingParams(max_new_tokens=config.max_new_tokens,
                              temperature=config.temperature, top_p=config.top_p,
                              repetition_penalty=config.repetition_penalty, stop=('\n\n',)))


def _finish_seed(out: dict, model: LanguageModel, corpus: Corpus, config, seed_dir: str,
                 seed: int, pjf_scores: str | None, hirenet_scores: HireNetScores | None
                 ) -> None:
  """After a seed's runs: the learned-scorer variants, the transcripts of the full run's
  test pairs and its interviews as a HireNet corpus."""
  base = loop_config(config)
  runner_dir = os.path.join(seed_dir, 'runs', 'mockllm')
  if not os.path.exists(os.path.join(runner_dir, loop.INTERVIEWS_FILE)):
    return
  full = loop.MockInterviewer(model, corpus, base, runner_dir).interviews
  learned, documents, attention = {}, None, {}
  if config.hirenet_scorer:
    if hirenet_scores is None:
      raise ConfigError('config.hirenet_scorer needs a way to train HireNet '
                        '(python -m experiments.mockllm gives one)')
    learned, attention = hirenet_scores(full, corpus, seed_dir, seed, config.hirenet_epochs)
    documents, _ = hirenet_scores(full, corpus, seed_dir, seed, config.hirenet_epochs,
                                  reading='documents')
  if pjf_scores:
    scores = read_pjf_scores(pjf_scores, corpus.pairs)
    learned.update(scores)
    if documents is not None:
      documents.update(scores)
  by_key = {(p.candidate_id, p.job_id): p for p in corpus.pairs}
  for name, scores in (('learned', learned), ('learned_wo_mi', documents)):
    if scores:
      add_variant(out, name, rescored(full, scores), by_key, seed_dir,
                  attributes=resume_attributes(corpus))
      out['variants'][name]['learned_scores'] = sorted(scores)
  with open(os.path.join(seed_dir, 'variants', 'mockllm', 'decisions.csv'),
            encoding='utf-8') as f:
    decisions = {(r['candidate_id'], r['job_id']): r for r in csv.DictReader(f)}
  shown = [i for i in full if i.split == 'test'][:config.transcripts]
  write_transcripts(shown, corpus, os.path.join(seed_dir, 'transcripts'), model.name,
                    decisions, limit=config.transcripts, attention=attention,
                    s_q_after=judge_after_each_turn(model, shown, corpus))
  export_hirenet_corpus(full, corpus, os.path.join(seed_dir, 'hirenet_corpus'))


def run(config, corpus: Corpus, workdir: str, *, seeds: Sequence[int],
        llm_cache: str | None = None, pjf_scores: str | None = None,
        pjf_grid_dir: str | None = None, hirenet_scores: HireNetScores | None = None,
        progress: Callable[[str, int], Callable[[int], None]] | None = None) -> dict:
  """The MockLLM experiment of `config` (experiments/configs/mockllm.py) on `corpus`.

  Every seed's generation runs and variants in workdir/seed_S (the same pairs each seed),
  then workdir/table2.md/.csv with the paired tests (`pjf_grid_dir`'s baseline rows
  joining), table3.md/.csv, figure5.png and results.json. `pjf_scores` (an
  experiments.pjf scores.csv) gives S_r and S_j of the learned-scorer rows, whose S_q and
  S_a come from `hirenet_scores` when config.hirenet_scorer. The backend answers through
  the response cache `llm_cache` (default workdir/llm_cache.jsonl), so a rerun resumes or
  replays. Returns Table 2 (`table2`) and whether Figure 5 was drawn (`figure5`).
  """
  from hirenet_jax.mockllm import backends  # pylint: disable=g-import-not-at-top
  model = backends.make_model(backend_options(config),
                              llm_cache or os.path.join(workdir, 'llm_cache.jsonl'))
  label, seeds = model.name, list(seeds)
  variants = [v.strip() for v in config.variants.split(',') if v.strip()]
  evaluated = subsample(corpus, config.max_pairs, 0,  # The same pairs every seed.
                        held_out_only=config.get('held_out_only', False))
  per_seed = []
  for seed in seeds:
    seed_dir = os.path.join(workdir, f'seed_{seed}')
    per_seed.append(run_seed(model, evaluated, seed_dir, seed=seed, variants=variants,
                             base=loop_config(config), progress=progress))
    _finish_seed(per_seed[-1], model, evaluated, config, seed_dir, seed, pjf_scores,
                 hirenet_scores)

  rows = table2(per_seed, evaluated, read_baseline_rows(pjf_grid_dir) if pjf_grid_dir else [])
  table = table_markdown(table_title('Table 2', label, seeds), rows, TABLE2_COLUMNS,
                         TABLE2_HEADERS)
  tests = paired_tests(per_seed, evaluated, read_baseline_decisions(pjf_grid_dir, evaluated)
                       if pjf_grid_dir else None)
  table += '\n' + tests_markdown(table_title('Paired tests of Table 2', label, seeds), tests)
  with open(os.path.join(workdir, 'table2.md'), 'w', encoding='utf-8') as f:
    f.write(table)
  table_csv(os.path.join(workdir, 'table2.csv'), rows, TABLE2_COLUMNS)
  rows3, columns3 = table3(per_seed)
  with open(os.path.join(workdir, 'table3.md'), 'w', encoding='utf-8') as f:
    f.write(table_markdown(table_title('Table 3', label, seeds), rows3, columns3)
            + timing_markdown(per_seed))
  table_csv(os.path.join(workdir, 'table3.csv'), rows3, columns3)
  has_figure = figure5(per_seed, config.num_cases, os.path.join(workdir, 'figure5.png'),
                       label)
  with open(os.path.join(workdir, 'results.json'), 'w', encoding='utf-8') as f:
    json.dump({'backend': config.backend.name, 'model': label, 'corpus_dir': corpus.source,
               'seeds': seeds, 'config': public_config(config.to_dict()),
               'per_seed': per_seed, 'tests': tests}, f, indent=1)
  return {'table2': table, 'figure5': has_figure}
