"""TPU VM or pod slice: data parallel over every chip of every host.

Launch the same command on every host of the slice (jax.distributed.initialize()
auto-detects the TPU topology with --multihost):

  gcloud compute tpus tpu-vm ssh $TPU --zone=$ZONE --worker=all --command="cd hirenet_jax \
    && python -m experiments.train --multihost --config=experiments/configs/tpu.py \
       --modality=text --variant=hirenet --data_dir=$SHARED/data --workdir=$SHARED/run"

`data_dir` and `workdir` must be visible to every host (e.g. a GCS bucket or NFS); each
host reads only its rows of every global batch; process 0 writes results and logs.
"""

from experiments.configs import default


def get_config():
  """The default configuration for TPU data parallelism."""
  config = default.get_config()
  config.batch_size = 256  # Global batch; divisible by the chips (8 per v4/v5 host).
  config.eval_batch_size = 256  # Same shapes for evaluation.
  config.learning_rate = 2e-3  # A little larger for the larger batch.
  config.warmup_steps = 50  # Warm up the larger learning rate.
  config.matmul_precision = 'default'  # TPU float32 matmuls already run as bf16 passes.
  config.dtype = 'bfloat16'  # bf16 operands; the GRU state stays float32 (see gpu.py).
  config.model.unroll = 4  # Fewer, larger steps of the GRU scans.
  config.async_checkpointing = True  # Checkpoint writes overlap training.
  return config
