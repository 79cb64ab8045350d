r"""Writes a synthetic interview corpus whose hirability cue needs HireNet's hypotheses
(data_prep.hirenet.synthetic; docs/synthetic_corpus.md).

  python -m data_prep.synthetic --out_dir=/tmp/corpus --num_candidates=200 --seed=0 \
      --modalities=text,audio,video
  python -m data_prep.synthetic --out_dir=/tmp/biased --modalities=text \
      --bias_group=gender --label_bias=0.4 --gender_proxy    # planted bias, fairness.md

The corpus is a function of the flags: the same flags give the same bytes.
"""

from __future__ import annotations

import time

from absl import app
from absl import flags
from absl import logging

from data_prep import bias_flags
from data_prep.hirenet import synthetic
from hirenet_jax.hirenet.dataset_spec import MODALITIES

_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Corpus directory to write.', required=True)
_NUM_CANDIDATES = flags.DEFINE_integer('num_candidates', 600,
                                       'Number of candidates (interviews).')
_SEED = flags.DEFINE_integer('seed', 0, 'Random seed; the corpus is a function of the flags.')
_MODALITIES = flags.DEFINE_list('modalities', list(MODALITIES),
                                'Media to render: text,audio,video.')
_QUESTIONS = flags.DEFINE_integer('questions_per_interview', 5,
                                  'Typical questions per interview.')
_WORDS = flags.DEFINE_float('words_per_answer', 95.0, 'Mean words per answer (paper: 95).')
_SECONDS = flags.DEFINE_float('seconds_per_answer', 52.0,
                              'Mean seconds per answer (paper: 52).')
_FPS = flags.DEFINE_float('fps', 25.0, 'OpenFace CSV frame rate.')
_CUE_STRENGTH = flags.DEFINE_float('cue_strength', 0.8,
                                   'In [0, 1]: how reliably key answers show the cue.')
_LABEL_NOISE = flags.DEFINE_float('label_noise', 0.05, 'Probability of flipping a label.')
_POSITION_PRIOR_SD = flags.DEFINE_float('position_prior_sd', 0.6,
                                        'Logit spread of per-position hirable rates.')
_MISSING_AUDIO = flags.DEFINE_float('missing_audio_rate', 0.015,
                                    'Fraction of answers without audio.')
_MISSING_VIDEO = flags.DEFINE_float('missing_video_rate', 0.025,
                                    'Fraction of answers without video.')
_WORKERS = flags.DEFINE_integer('workers', None,
                                'Media rendering processes (default: all cores).')
_PLANTED_BIAS = bias_flags.define_bias_flags(
    who='candidate',
    label_bias_help='Probability that a hirable candidate of the disfavoured group is '
                    "labelled not hirable (the data's impact ratio is then about 1 - this).",
    proxy_help='Answers speak of the candidate in their grammatical gender ("je suis '
               'motivée"); implies attributes (--bias_group defaults to gender).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  start = time.time()
  out = synthetic.generate_corpus(
      _OUT_DIR.value, num_candidates=_NUM_CANDIDATES.value, seed=_SEED.value,
      modalities=_MODALITIES.value, questions_per_interview=_QUESTIONS.value,
      words_per_answer=_WORDS.value, seconds_per_answer=_SECONDS.value, fps=_FPS.value,
      cue_strength=_CUE_STRENGTH.value, label_noise=_LABEL_NOISE.value,
      position_prior_sd=_POSITION_PRIOR_SD.value, missing_audio_rate=_MISSING_AUDIO.value,
      missing_video_rate=_MISSING_VIDEO.value, workers=_WORKERS.value, bias=_PLANTED_BIAS())
  logging.info('wrote %s in %.1f s', out, time.time() - start)


if __name__ == '__main__':  # Media are rendered by a forkserver pool: keep this guard.
  app.run(main)
