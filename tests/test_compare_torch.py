"""The torch comparison compares the same computation (benchmarks/compare_torch.py).

Given our weights, torch's `nn.GRU` with `pack_padded_sequence` gives the outputs and the
input gradients of `gru.MaskedGRU`, on padded inputs with a mask and on packed rows; so
the speed ratios compare like with like. Skipped without torch (not a dependency).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from benchmarks import compare_torch  # pylint: disable=g-import-not-at-top
from benchmarks import torch_hirenet  # pylint: disable=g-import-not-at-top
from hirenet_jax.core import gru as gru_lib  # pylint: disable=g-import-not-at-top
from hirenet_jax.hirenet import packing  # pylint: disable=g-import-not-at-top

N, T, D, H = 5, 7, 6, 4
LENGTHS = np.array([7, 3, 5, 1, 4])


@pytest.fixture(scope='module')
def setup():
  """Inputs zero past their lengths, our params and a torch GRU holding them."""
  rng = np.random.default_rng(0)
  x_NxTxD = rng.standard_normal((N, T, D)).astype(np.float32)
  x_NxTxD *= (np.arange(T) < LENGTHS[:, None])[..., None]
  model = gru_lib.MaskedGRU(H)
  mask_NxT = gru_lib.lengths_to_mask(jnp.asarray(LENGTHS), T)
  params = model.init(jax.random.PRNGKey(0), jnp.asarray(x_NxTxD), mask_NxT)['params']
  # Non-zero biases, so a misplaced bias would show.
  params = jax.tree.map(lambda p: p + 0.1 * jnp.arange(p.size).reshape(p.shape) / p.size,
                        params)
  gru = torch.nn.GRU(D, H, bidirectional=True, batch_first=True)
  torch_hirenet.load_masked_gru(gru, jax.device_get(params))
  return model, params, gru, x_NxTxD


def _torch_packed(gru, x_NxTxD):
  """Outputs [N, T, 2H] (zero past the lengths) and d(sum outputs)/dx of torch packed."""
  x = torch.from_numpy(x_NxTxD).requires_grad_(True)
  out = torch_hirenet.encoder_outputs(gru, x, torch.from_numpy(LENGTHS), packed=True)
  out.sum().backward()
  return out.detach().numpy(), x.grad.numpy()


def test_padded_masked_gru_matches_torch_packed(setup):
  model, params, gru, x_NxTxD = setup
  mask_NxT = gru_lib.lengths_to_mask(jnp.asarray(LENGTHS), T)

  def loss(x):
    out = model.apply({'params': params}, x, mask_NxT)[0]
    return out.sum(), out

  (_, ours), grad_x = jax.value_and_grad(loss, has_aux=True)(jnp.asarray(x_NxTxD))
  theirs, theirs_grad_x = _torch_packed(gru, x_NxTxD)
  np.testing.assert_allclose(ours, theirs, atol=1e-5)
  np.testing.assert_allclose(grad_x, theirs_grad_x, atol=1e-5)


def test_packed_rows_match_torch_packed(setup):
  model, params, gru, x_NxTxD = setup
  packed = packing.pack_padded({'answers': x_NxTxD[None], 'answer_lengths': LENGTHS[None]},
                               width=packing.row_width(LENGTHS.max(), LENGTHS.mean()),
                               row_multiple=1)
  segments_RxW = jnp.asarray(packed['answer_segments'])
  assert packed['answers'].shape[0] < N  # Some rows hold several answers.

  def loss(x_RxWxD):
    out = model.apply({'params': params}, x_RxWxD, segments_RxW >= 0, segments_RxW)[0]
    return out.sum(), out

  (_, ours_RxWx2H), grad_RxWxD = jax.value_and_grad(loss, has_aux=True)(
      jnp.asarray(packed['answers']))
  where = (packed['answer_lengths'], packed['answer_rows'], packed['answer_starts'])
  theirs, theirs_grad_x = _torch_packed(gru, x_NxTxD)
  np.testing.assert_allclose(packing.unpack(np.asarray(ours_RxWx2H), *where)[0], theirs,
                             atol=1e-5)
  np.testing.assert_allclose(packing.unpack(np.asarray(grad_RxWxD), *where)[0],
                             theirs_grad_x, atol=1e-5)


def test_numpy_reference_of_torch_is_torchs_packed_gru(setup):
  """tests/test_torch_weights.py checks the weight mapping against this reference
  where torch is absent; here the reference meets torch itself."""
  from test_torch_weights import torch_gru_reference  # pylint: disable=g-import-not-at-top
  _, _, gru, x_NxTxD = setup
  state = {k: v.detach().numpy().astype(np.float64) for k, v in gru.state_dict().items()}
  ours, _ = torch_gru_reference(state, x_NxTxD.astype(np.float64), LENGTHS, H)
  theirs, _ = _torch_packed(gru, x_NxTxD)
  np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_torch_padded_matches_forward_direction_only(setup):
  """Without packing torch's backward direction reads the padding: only the forward
  half agrees (why the padded torch figure is a speed reference, not a correct model)."""
  model, params, gru, x_NxTxD = setup
  ours = model.apply({'params': params}, jnp.asarray(x_NxTxD),
                     gru_lib.lengths_to_mask(jnp.asarray(LENGTHS), T))[0]
  with torch.no_grad():
    theirs = torch_hirenet.encoder_outputs(gru, torch.from_numpy(x_NxTxD),
                                           torch.from_numpy(LENGTHS), packed=False).numpy()
  valid = np.arange(T) < LENGTHS[:, None]
  np.testing.assert_allclose(np.asarray(ours)[valid][:, :H], theirs[valid][:, :H], atol=1e-5)
  assert not np.allclose(np.asarray(ours)[valid][:, H:], theirs[valid][:, H:], atol=1e-3)


def test_encoder_lengths_are_realistic_and_reach_max():
  lengths = compare_torch.encoder_lengths(seed=3)
  assert lengths.shape == (compare_torch.ENCODER_ANSWERS,)
  assert lengths.max() == compare_torch.ENCODER_MAX_LENGTH
  assert lengths.min() >= compare_torch.MIN_LENGTH
  assert 40 < lengths.mean() < 60


def test_encoder_benchmark_reports_every_variant_and_ratio():
  results = compare_torch.encoder_benchmark(num_steps=1, num_answers=8, max_length=12,
                                            input_size=6, hidden_size=4, median_length=6)
  assert set(results['variants']) == set(compare_torch.ENCODER_VARIANTS)
  assert all(v['valid_steps_per_s'] > 0 for v in results['variants'].values())
  assert len(results['ratios']) == 4
  # The targets compare like with like.
  targets = {(r['ours'], r['torch']): r['target'] for r in results['ratios']
             if r['target'] is not None}
  assert targets == {('ours_packed', 'torch_packed'): compare_torch.TARGET_VS_PACKED,
                     ('ours_padded', 'torch_padded'): compare_torch.TARGET_VS_PADDED}
  fake = {'machine': {'processor': 'x', 'cpu_count': 2, 'torch_threads': 2, 'torch': 't',
                      'jax': 'j', 'jax_device': 'cpu', 'jax_devices': 1},
          'encoder': results,
          'end_to_end': {'batch_size': 32, 'num_batches': 2, 'packed_shapes': [(48, 144)],
                         'interviews': 52.0, 'valid_words': 1000, 'compile_s': 1.0,
                         'ours': {'median_step_s': 0.1, 'words_per_s': 5000.0,
                                  'interviews_per_s': 260.0},
                         'torch': {'median_step_s': 0.3, 'words_per_s': 1666.0,
                                   'interviews_per_s': 86.7},
                         'ours_pipeline': {'mean_step_s': 0.2, 'words_per_s': 2500.0,
                                           'interviews_per_s': 130.0},
                         'ratio': 3.0, 'pipeline_ratio': 1.5, 'target': 2.0}}
  table = compare_torch.format_table(fake)
  assert 'ours_packed / torch_packed' in table
  assert '3.00x (target >= 2x: yes)' in table
  assert 'its loading: 1.50x (no)' in table


def test_end_to_end_benchmark_times_ours_preloaded_and_pipeline_fed_against_torch(tiny, tmp_path):
  from helpers import tiny_config  # pylint: disable=g-import-not-at-top
  _, data_dir = tiny
  config = tiny_config(data_dir)
  out = compare_torch.end_to_end_benchmark(config, prepared_cache_dir=str(tmp_path),
                                           batch_size=config.batch_size, num_batches=2)
  assert out['num_batches'] == 2 and out['valid_words'] > 0
  for name in ('ours', 'torch', 'ours_pipeline'):
    assert out[name]['words_per_s'] == pytest.approx(out['valid_words'] / out[name]['total_s'])
  assert len(out['ours_pipeline']['passes_s']) == 3
  assert out['ours_pipeline']['total_s'] == sorted(out['ours_pipeline']['passes_s'])[1]
  assert out['pipeline_ratio'] == pytest.approx(
      out['ours_pipeline']['words_per_s'] / out['torch']['words_per_s'])
