"""One GPU (e.g. an H100): the paper-size model, larger batches, bf16 matmuls.

  python -m experiments.train --config=experiments/configs/gpu.py --modality=audio ...

bf16 where it is safe: `matmul_precision='bfloat16'` runs the float32 matmuls (the
GRU input projections, the recurrent h @ W_h, attention and classifier layers) as bf16
passes with float32 accumulation, while the GRU state, the gates' element-wise math,
the masked softmaxes, pooling and the loss stay float32. `dtype='bfloat16'` is NOT used:
in models.py / gru.py it would also carry the GRU hidden state in bf16 through the
recurrence (h0 is created in the compute dtype), which drifts over the ~5200 audio
frames of a paper-length answer.
"""

from experiments.configs import default


def get_config():
  """The default configuration tuned for one GPU."""
  config = default.get_config()
  config.batch_size = 64  # More candidates per step: the GPU is latency-bound otherwise.
  config.matmul_precision = 'bfloat16'  # bf16 matmul passes, float32 state and loss.
  config.dtype = 'float32'  # See the module docstring: bf16 would put the GRU state in bf16.
  config.model.unroll = 4  # Fewer, larger kernels per GRU time step.
  config.async_checkpointing = True  # Checkpoint writes overlap training.
  return config
