"""curves.png: a run's training curves, so a person sees at a glance whether the model
learnt, overfitted or stayed flat, and which epoch was selected."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

SELECTION_LABELS = {'roc_auc': 'validation ROC AUC', 'log_loss': 'validation log loss',
                    'f1': 'validation F1'}


def plot_curves(history: Sequence[Mapping[str, Any]], best_epoch: int,
                selection_metric: str, path: str) -> None:
  """Writes train / validation loss and the selection metric per epoch, the selected
  epoch marked, to `path` (PNG; matplotlib's Agg canvas, no display needed)."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  from matplotlib.ticker import MaxNLocator  # pylint: disable=g-import-not-at-top
  epochs = [h['epoch'] for h in history]
  fig = Figure(figsize=(9, 3.6), layout='constrained')
  FigureCanvasAgg(fig)
  loss_ax, metric_ax = fig.subplots(1, 2)
  loss_ax.plot(epochs, [h['train_loss'] for h in history], 'o-', ms=3, label='train')
  loss_ax.plot(epochs, [h['validation_loss'] for h in history], 'o-', ms=3,
               label='validation')
  loss_ax.set(xlabel='epoch', ylabel='loss (BCE)', title='loss')
  metric_ax.plot(epochs, [h['selection'] for h in history], 'o-', ms=3, color='C2')
  constant = [h for h in history if h.get('constant')]
  if constant:
    metric_ax.plot([h['epoch'] for h in constant], [h['selection'] for h in constant],
                   'x', color='C3', ms=8, label='constant scores (not selectable)')
  label = SELECTION_LABELS.get(selection_metric, selection_metric)
  metric_ax.set(xlabel='epoch', ylabel=label, title=f'selection: {label}')
  for ax in (loss_ax, metric_ax):
    ax.axvline(best_epoch, color='k', ls='--', lw=1, label=f'selected epoch {best_epoch}')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.savefig(path, dpi=100)
