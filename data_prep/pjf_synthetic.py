r"""Writes the synthetic person-job-fit corpus (data_prep.pjf.synthetic says what it holds;
docs/pjf_format.md, "Synthetic corpus").

  python -m data_prep.pjf_synthetic --out_dir=DIR [--seed=0] [--num_candidates=600] \
      [--num_jobs=200] [--pairs_per_candidate=10] [--split=warm|candidate] [--check]

Without --out_dir (and with the default settings) the cached default corpus is built once.
--style=narrative writes the held-out narrative corpus instead (data_prep.pjf.narrative,
its own default sizes; --out_dir required).
"""

from __future__ import annotations

from absl import app
from absl import flags

from data_prep import bias_flags
from data_prep.pjf import corpus as pjf_corpus
from data_prep.pjf import narrative
from data_prep.pjf import synthetic

_DEFAULT = synthetic.DEFAULT_CORPUS
_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Corpus directory to write (default: the '
                               'cached default corpus, see default_corpus_dir).')
_SEED = flags.DEFINE_integer('seed', _DEFAULT['seed'], 'Random seed.')
_NUM_CANDIDATES = flags.DEFINE_integer('num_candidates', _DEFAULT['num_candidates'],
                                       'Resumes.')
_NUM_JOBS = flags.DEFINE_integer('num_jobs', _DEFAULT['num_jobs'], 'Job descriptions.')
_PAIRS = flags.DEFINE_integer('pairs_per_candidate', _DEFAULT['pairs_per_candidate'],
                              'Jobs each candidate is paired with (fewer when their '
                              'function has fewer jobs).')
_LABEL_NOISE = flags.DEFINE_float('label_noise', _DEFAULT['label_noise'],
                                  "Probability of flipping each side's label.")
_SPLIT = flags.DEFINE_enum('split', _DEFAULT['split_mode'], pjf_corpus.SPLIT_MODES,
                           'warm: 40% of candidates training-only, 20% validation and 40% '
                           'test candidates with half their pairs in training; candidate: '
                           'every pair of a candidate in one split, 80/10/10 '
                           '(docs/pjf_format.md).')
_PLANTED_BIAS = bias_flags.define_bias_flags(
    who='resume',
    label_bias_help='Probability that a job-side acceptance of the disfavoured group '
                    'becomes a rejection.',
    proxy_help="Resumes open with a first name of the candidate's gender; implies "
               'attributes.')
_STYLE = flags.DEFINE_enum('style', 'default', ['default', 'narrative'],
                           'default: data_prep.pjf.synthetic; narrative: the held-out '
                           'corpus of data_prep.pjf.narrative (sizes not given default to '
                           'its own, --out_dir required).')
_CHECK = flags.DEFINE_bool('check', False, 'Print the ROC AUCs of word overlap against the '
                           'requirement rule, and the label balance.')


def _write_narrative():
  """--style=narrative: writes that corpus, reads it back and prints its label balance."""
  if not _OUT_DIR.value:
    raise app.UsageError('--out_dir is required with --style=narrative (it has no cached '
                         'default corpus)')
  if _PLANTED_BIAS() is not None:
    raise app.UsageError('--style=narrative takes no planted-bias flags')
  given = dict(seed=_SEED, num_candidates=_NUM_CANDIDATES, num_jobs=_NUM_JOBS,
               pairs_per_candidate=_PAIRS, label_noise=_LABEL_NOISE, split_mode=_SPLIT)
  params = dict(narrative.DEFAULTS,
                **{k: f.value for k, f in given.items() if f.present})
  out = narrative.write(_OUT_DIR.value, **params)
  corpus, _ = pjf_corpus.read_corpus(out)  # Raises on any problem.
  print(f'Wrote {len(corpus.jobs)} jobs, {len(corpus.resumes)} resumes, '
        f'{len(corpus.pairs)} pairs to {out}')
  figures = narrative.label_figures(corpus, pjf_corpus.read_ground_truth(out))
  for key, value in figures.items():
    print(f'{key}: {value:.3f}')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if _STYLE.value == 'narrative':
    return _write_narrative()
  params = dict(seed=_SEED.value, num_candidates=_NUM_CANDIDATES.value,
                num_jobs=_NUM_JOBS.value, pairs_per_candidate=_PAIRS.value,
                label_noise=_LABEL_NOISE.value, split_mode=_SPLIT.value)
  bias = _PLANTED_BIAS()
  if bias is not None:
    params['bias'] = bias.to_dict()
  if not _OUT_DIR.value and params != _DEFAULT:
    raise app.UsageError('--out_dir is needed for a corpus other than the default')
  out = synthetic.write_or_default(_OUT_DIR.value, **params)
  corpus, _ = pjf_corpus.read_corpus(out)  # Raises on any problem.
  print(f'Wrote {len(corpus.jobs)} jobs, {len(corpus.resumes)} resumes, '
        f'{len(corpus.pairs)} pairs to {out}')
  if _CHECK.value:
    for key, value in synthetic.check_figures(out).items():
      print(f'{key}: {value:.3f}')


if __name__ == '__main__':
  app.run(main)
