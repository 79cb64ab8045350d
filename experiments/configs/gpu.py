"""One GPU (e.g. an H100): the paper-size model, larger batches, bf16 matmuls.

  python -m experiments.train --config=experiments/configs/gpu.py --modality=audio ...

bf16 where it is safe: `dtype='bfloat16'` stores the GRU input projections (the largest
activations: [2, T, N, 3H]) and runs every matmul's operands in bf16 with float32
accumulation, while gru.py keeps the recurrent state, the gates' element-wise math and
the outputs in float32 (a bf16 state would drift over the ~5200 frames of a paper-length
audio answer); the masked softmaxes, pooling and the loss are float32 too.
"""

from experiments.configs import default


def get_config():
  """The default configuration tuned for one GPU."""
  config = default.get_config()
  config.batch_size = 64  # More candidates per step: the GPU is latency-bound otherwise.
  config.dtype = 'bfloat16'  # bf16 operands and projections; float32 state and loss.
  config.model.unroll = 4  # Fewer, larger kernels per GRU time step.
  config.row_width_factor = 1.0  # Packed rows one long answer wide: a shorter recurrence.
  config.async_checkpointing = True  # Checkpoint writes overlap training.
  return config
