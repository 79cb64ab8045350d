"""What the person-job-fit commands share: loading the corpus (default: the synthetic
one) and the results' terminal layout. Defines no flags, so both commands import it."""

from __future__ import annotations


def load_corpus(corpus_dir: str):
  """The corpus at `corpus_dir` ('' = the default synthetic corpus, built once)."""
  from data_prep.pjf import corpus as pjf_corpus  # pylint: disable=g-import-not-at-top
  if not corpus_dir:
    from data_prep.pjf import synthetic as pjf_synthetic  # pylint: disable=g-import-not-at-top
    corpus_dir = pjf_synthetic.ensure_default_corpus()
  corpus, _ = pjf_corpus.read_corpus(corpus_dir, on_error='fail')
  return corpus


def format_results(results: dict) -> str:
  """Both sides' ranking metrics and the handshake per split (the layout of Table 2)."""
  k = results['k']
  names = [f'ndcg@{k}', f'recall@{k}', f'precision@{k}', f'mrr@{k}']
  head = (f'{"split":<11} {"side":<10} ' + ' '.join(f'{n:>12}' for n in names)
          + f' {"random ndcg":>12}')
  lines = [head]
  for split in ('validation', 'test'):
    for side in ('candidate', 'job'):
      m = results[split][side]
      cells = ' '.join('         n/a' if m[n] is None else f'{m[n]:>12.3f}' for n in names)
      rnd = results['random'][split][side][f'ndcg@{k}']
      lines.append(f'{split:<11} {side:<10} {cells} '
                   f'{"n/a" if rnd is None else f"{rnd:.3f}":>12}')
    h = results[split]['handshake']
    lines.append(f'{split:<11} handshake  macro precision {h["precision"]:.3f} '
                 f'recall {h["recall"]:.3f} F1 {h["f1"]:.3f}')
  return '\n'.join(lines)
