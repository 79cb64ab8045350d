"""The bias audit of a finished run (`python -m experiments.audit`, docs/fairness.md).

A HireNet run (`predictions.csv` + `results.json`): its test candidates, selected when
their score reaches the run's threshold. A MockLLM run (`decisions.csv` + the variant's
`results.json`): its test pairs, three decisions each: the interviewer's (E >= its
threshold, against `job_accepts`), the candidate's (against `candidate_accepts`) and the
handshake (against `match`); pairs are resampled by candidate. The group columns are the
`attr_<name>` columns the corpus's attributes put there. Writes audit.json, audit.md
and audit.png beside the file it read (at another threshold, `selection_threshold`, into
audit_threshold_<how>/ there).
"""

from __future__ import annotations

import csv
import glob
import json
import os
from typing import Any, Sequence

import numpy as np

from hirenet_jax.core import fairness
from hirenet_jax.core import run_log

PREDICTIONS = 'predictions.csv'
DECISIONS = 'decisions.csv'
RESULTS = 'results.json'
AUDIT_JSON, AUDIT_MD, AUDIT_PNG = 'audit.json', 'audit.md', 'audit.png'


def _read_csv(path: str) -> list[dict]:
  with open(path, newline='', encoding='utf-8') as f:
    return list(csv.DictReader(f))


def _read_json(path: str) -> dict:
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def find_runs(workdir: str) -> list[str]:
  """The directories under `workdir` (itself included) holding a predictions.csv or a
  decisions.csv with a results.json beside it."""
  found = []
  for name in (PREDICTIONS, DECISIONS):
    for path in sorted(glob.glob(os.path.join(workdir, '**', name), recursive=True)):
      run = os.path.dirname(path)
      if os.path.exists(os.path.join(run, RESULTS)):
        found.append(run)
  return found


def selection_threshold(scores: Sequence[float], y_true: Sequence[int], run_threshold: float,
                        how: str = 'run') -> tuple[float, str]:
  """(threshold, what it is) of one audited decision. `how`: 'run', the run's own;
  'rate', the highest threshold that selects the audited rows' base rate (as many
  selected as there are positive labels: the selection-rate ratio is then not an
  artefact of a lenient or strict threshold); or a number."""
  if how == 'run':
    return float(run_threshold), "the run's threshold"
  if how == 'rate':
    s_N = np.sort(np.asarray(scores, np.float64))[::-1]
    k = int(round(float(np.mean(y_true)) * len(s_N))) if len(s_N) else 0
    threshold = float(s_N[k - 1]) if k else float(np.inf)
    return threshold, f'selects the base rate, {k} of {len(s_N)}'
  try:
    return float(how), 'given'
  except ValueError:
    raise ValueError(f"threshold must be 'run', 'rate' or a number, got {how!r}") from None


def hirenet_set(rows: Sequence[dict], what: str, run_threshold: float,
                threshold: str = 'run') -> dict[str, dict]:
  """{'hirable': decision set} of HireNet's scored candidates (predictions.csv rows, or
  scoring.score_dataset's), selected at `threshold` (selection_threshold's `how`)."""
  scores = [float(r['score']) for r in rows]
  y_true = [int(r['label']) for r in rows]
  t, why = selection_threshold(scores, y_true, run_threshold, threshold)
  return {'hirable': {
      'what': f'HireNet, {what}: selected = score >= {t:.4f} ({why})',
      'y_true': y_true, 'y_pred': [int(s >= t) for s in scores], 'scores': scores,
      'attributes': [fairness.row_attributes(r) for r in rows], 'clusters': None}}


def decision_sets(run_dir: str, split: str = 'test', threshold: str = 'run'
                  ) -> dict[str, dict]:
  """{name: {y_true, y_pred, scores, attributes, clusters}} of one run's `split`, the
  scores selected at `threshold` (selection_threshold's `how`)."""
  results = _read_json(os.path.join(run_dir, RESULTS))
  if os.path.exists(os.path.join(run_dir, PREDICTIONS)):
    rows = [r for r in _read_csv(os.path.join(run_dir, PREDICTIONS)) if r['split'] == split]
    return hirenet_set(rows, f'{split} candidates', results['threshold'], threshold)
  rows = [r for r in _read_csv(os.path.join(run_dir, DECISIONS)) if r['split'] == split]
  t = results['thresholds']
  attributes = [fairness.row_attributes(r) for r in rows]
  clusters = [r['candidate_id'] for r in rows]
  sides = {}
  for name, e, label in (('interviewer', 'e_interviewer', 'job_accepts'),
                         ('candidate', 'e_candidate', 'candidate_accepts')):
    scores = [float(r[e]) for r in rows]
    y_true = [int(r[label]) for r in rows]
    side_t, why = selection_threshold(scores, y_true, t[name], threshold)
    sides[name] = {
        'what': f'MockLLM {name} side, {split} pairs: accepts = {e} >= {side_t:.4f} '
                f'({why}), against {label}',
        'y_true': y_true, 'y_pred': [int(s >= side_t) for s in scores], 'scores': scores,
        'attributes': attributes, 'clusters': clusters}
  sides['handshake'] = {
      'what': f'MockLLM handshake, {split} pairs: both sides accept, against match',
      'y_true': [int(r['match']) for r in rows], 'y_pred': [int(r['handshake']) for r in rows],
      'scores': None, 'attributes': attributes, 'clusters': clusters}
  return sides


def corpus_decisions(corpus_dir: str) -> dict[str, dict]:
  """The data's own decisions, every candidate (HireNet interviews.jsonl: `label`) or
  pair (person-job fit: each side's decision, the resumes' attributes)."""
  def lines(name):
    with open(os.path.join(corpus_dir, name), encoding='utf-8') as f:
      return [json.loads(line) for line in f if line.strip()]
  if os.path.exists(os.path.join(corpus_dir, 'interviews.jsonl')):
    records = [r for r in lines('interviews.jsonl') if r.get('label') is not None]
    labels = [int(r['label']) for r in records]
    return {'labels': {'what': f"the corpus's labels, all {len(labels)} candidates",
                       'y_true': labels, 'y_pred': labels, 'scores': None,
                       'attributes': [r.get('attributes') or {} for r in records],
                       'clusters': None}}
  attributes = {r['candidate_id']: r.get('attributes') or {} for r in lines('resumes.jsonl')}
  pairs = lines('pairs.jsonl')
  out = {}
  for key in ('job_accepts', 'candidate_accepts'):
    labels = [int(p[key]) for p in pairs]
    out[key] = {'what': f"the corpus's {key}, all {len(pairs)} pairs", 'y_true': labels,
                'y_pred': labels, 'scores': None,
                'attributes': [attributes.get(p['candidate_id'], {}) for p in pairs],
                'clusters': [p['candidate_id'] for p in pairs]}
  return out


def audit_corpus(corpus_dir: str, out_dir: str, **kwargs) -> dict[str, Any]:
  """The data's own selection rates by group (its decisions taken as the selections);
  writes audit.json, audit.md and audit.png into `out_dir`."""
  os.makedirs(out_dir, exist_ok=True)
  return write(out_dir, _audit(corpus_decisions(corpus_dir), corpus_dir, 'all', **kwargs))


def _audit(sets: dict, where: str, split: str, *, attributes: Sequence[str] | None = None,
           num_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
  out = {'run': os.path.abspath(where), 'split': split, 'audits': {}}
  for name, d in sets.items():
    names = list(attributes) if attributes else fairness.attribute_names(d['attributes'])
    if not names:
      raise ValueError(f'{where}: no attribute to audit (give the corpus "attributes", '
                       'docs/fairness.md)')
    result = fairness.audit(d['y_true'], d['y_pred'], d['attributes'], scores=d['scores'],
                            names=names, num_bootstrap=num_bootstrap, seed=seed,
                            clusters=d['clusters'])
    out['audits'][name] = {'what': d['what'], **result}
  return out


def audit_dir(run_dir: str, threshold: str = 'run') -> str:
  """Where the audit of `run_dir` at `threshold` goes: the run itself at its own
  threshold, else its audit_threshold_<how>/ (the run's own audit stays)."""
  return run_dir if threshold == 'run' else os.path.join(run_dir,
                                                         f'audit_threshold_{threshold}')


def audit_run(run_dir: str, *, attributes: Sequence[str] | None = None,
              num_bootstrap: int = 1000, seed: int = 0, split: str = 'test',
              threshold: str = 'run') -> dict[str, Any]:
  """Audits one run directory at `threshold` (selection_threshold's `how`); writes
  audit.json, audit.md and audit.png into audit_dir(run_dir, threshold)."""
  out_dir = audit_dir(run_dir, threshold)
  os.makedirs(out_dir, exist_ok=True)
  report = _audit(decision_sets(run_dir, split, threshold), run_dir, split,
                  attributes=attributes, num_bootstrap=num_bootstrap, seed=seed)
  return write(out_dir, dict(report, threshold=threshold))


def audit_scored(run_dir: str, corpus_dir: str, rows: Sequence[dict], *,
                 threshold: str = 'run', **kwargs) -> dict[str, Any]:
  """Audits a HireNet run's selections on another labelled corpus (`rows`: the run's
  checkpoint scoring every candidate of `corpus_dir`, as scoring.score_dataset gives
  them), which can be far larger than the run's test split; writes into
  audit_dir(run_dir, threshold)/audit_on_<corpus folder name>/."""
  rows = [r for r in rows if r.get('label') in (0, 1)]
  if not rows:
    raise ValueError(f'{corpus_dir}: no labelled candidate to audit')
  out_dir = os.path.join(audit_dir(run_dir, threshold),
                         f'audit_on_{os.path.basename(os.path.normpath(corpus_dir))}')
  os.makedirs(out_dir, exist_ok=True)
  sets = hirenet_set(rows, f'all {len(rows)} candidates of {os.path.abspath(corpus_dir)}',
                     rows[0]['threshold'], threshold)
  report = _audit(sets, run_dir, 'all', **kwargs)
  return write(out_dir, dict(report, threshold=threshold, corpus=os.path.abspath(corpus_dir)))


def write(run_dir: str, report: dict) -> dict:
  """Writes audit.json, audit.md and audit.png of `report` into `run_dir`."""
  report = json.loads(json.dumps(dict(report, written_to=os.path.abspath(run_dir)),
                                default=float))
  run_log.write_json(os.path.join(run_dir, AUDIT_JSON), report)
  with open(os.path.join(run_dir, AUDIT_MD), 'w', encoding='utf-8') as f:
    f.write(markdown(report))
  plot(report, os.path.join(run_dir, AUDIT_PNG))
  return report


def summary(report: dict) -> str:
  """A few lines for the terminal: per decision and grouping, the four-fifths line."""
  lines = [f'{report["run"]}:']
  for name, a in report['audits'].items():
    for grouping, g in a['groupings'].items():
      lines.append(f'  {name}: {fairness.four_fifths_line(grouping, g)}')
  if 'probe' in report:
    lines.append('  ' + probe_line(report['probe']))
  lines.append(f'  wrote {AUDIT_MD}, {AUDIT_JSON}, {AUDIT_PNG} in '
               f'{report.get("written_to", report["run"])}')
  return '\n'.join(lines)


def probe_line(probe: dict) -> str:
  """A counterfactual probe in one sentence: HireNet's (one score, the attention on the
  markers) or MockLLM's (`judges`: one paired difference per judge)."""
  if 'judges' in probe:
    name = lambda k: k[:1].upper() + k[1:]  # s_r -> S_r, as the paper writes them.
    judges = '; '.join(f'{name(k)} {_cell(d, 4)}, moved for {d["changed"]:.0%}'
                       for k, d in probe['judges'].items())
    return (f'Counterfactual probe of the judges, first names and pronouns of the resumes '
            f'swapped, {probe["n"]} pairs, model: {probe["model"]}. Score as feminine - '
            f'as masculine: {judges}. Sensitive (interval excludes 0): '
            f'{", ".join(name(k) for k in probe["sensitive"]) or "none"}.')
  d, a = probe['difference'], probe['attention']
  return (f'Counterfactual probe (gendered forms and first names, {probe["n"]} '
          f'interviews): score as feminine - as masculine {_cell(d, 4)}, moved for '
          f'{d["changed"]:.0%}; '
          f'attention on the marker words {a["marker_share"]:.3f} of the interview '
          f'against {a["chance_share"]:.3f} by word count.')


def _cell(x: dict, digits: int = 2) -> str:
  if not np.isfinite(x['value']):
    return '-'
  if not np.isfinite(x['low']):
    return f'{x["value"]:.{digits}f}'
  return f'{x["value"]:.{digits}f} [{x["low"]:.{digits}f}, {x["high"]:.{digits}f}]'


COLUMNS = (('base_rate', 'base rate'), ('selection_rate', 'selection rate'),
           ('impact_ratio', 'impact ratio'), ('base_rate_ratio', 'base-rate ratio'),
           ('tpr', 'TPR'), ('fpr', 'FPR'), ('roc_auc', 'ROC AUC'), ('ece', 'ECE'),
           ('brier', 'Brier'))


def markdown(report: dict) -> str:
  """audit.md: per decision and grouping, one table (n beside each rate, an interval
  beside every figure), the gaps, then the four-fifths line and small-group warnings."""
  confidence = next(iter(report['audits'].values()))['confidence']
  lines = [f'# Bias audit of {report["run"]}', '',
           f'Split: {report["split"]}. Intervals: {confidence:.0%} percentile bootstrap, '
           'candidates resampled. See docs/fairness.md.', '']
  for name, a in report['audits'].items():
    lines += [f'## {name}', '', a['what'] + f' ({a["num_candidates"]} rows).', '']
    for grouping, g in a['groupings'].items():
      cols = [(k, t) for k, t in COLUMNS
              if k in ('impact_ratio', 'base_rate_ratio') or
              k in next(iter(g['groups'].values()))]
      lines += [f'### {grouping}', '',
                '| group | n | ' + ' | '.join(t for _, t in cols) + ' |',
                '|---|---|' + '---|' * len(cols)]
      for value, m in g['groups'].items():
        cells = [_cell(g[k][value] if k in ('impact_ratio', 'base_rate_ratio') else m[k])
                 for k, _ in cols]
        lines.append(f'| {value} | {m["n"]} | ' + ' | '.join(cells) + ' |')
      d = g['differences']
      lines += ['', f'Impact ratio: against {g["reference"]}, the most selected group; '
                f'base-rate ratio: against {g["base_reference"]}, the highest base rate.',
                '', f'Gaps (max - min over groups): demographic parity '
                f'{_cell(d["demographic_parity"])}, equal opportunity (TPR) '
                f'{_cell(d["equal_opportunity"])}, equalized odds '
                f'{_cell(d["equalized_odds"])}.', '',
                fairness.four_fifths_line(grouping, g)]
      if g['small_groups']:
        lines.append(f'Warning: fewer than {a["min_group_size"]} in '
                     f'{", ".join(g["small_groups"])}: their figures are uncertain '
                     '(see the intervals).')
      lines.append('')
  if 'probe' in report:
    lines += ['## Counterfactual probe', '', probe_line(report['probe']), '']
  return '\n'.join(lines)


def plot(report: dict, path: str) -> None:
  """audit.png: base and selection rate of each group with its interval, one panel per
  decision and single attribute."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  panels = [(name, grouping, g) for name, a in report['audits'].items()
            for grouping, g in a['groupings'].items()
            if fairness.INTERSECTION not in grouping or len(g['groups']) <= 8]
  fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 1, 3.4),
                           squeeze=False)
  for ax, (name, grouping, g) in zip(axes[0], panels):
    values = list(g['groups'])
    x = np.arange(len(values))
    for k, (metric, label) in enumerate((('base_rate', 'base rate (data)'),
                                         ('selection_rate', 'selection rate'))):
      v = [g['groups'][u][metric] for u in values]
      mid = np.array([e['value'] for e in v])
      err = np.array([[e['value'] - e['low'], e['high'] - e['value']] for e in v]).T
      ax.errorbar(x + (k - 0.5) * 0.2, mid, yerr=np.nan_to_num(err), fmt='os'[k],
                  capsize=3, label=label)
    ax.set_xticks(x, [f'{u}\n(n={g["groups"][u]["n"]})' for u in values], fontsize=7)
    ax.set_title(f'{name}: {grouping}', fontsize=8)
    ax.set_ylim(0, 1)
  axes[0][0].set_ylabel('rate, 95% interval')
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
