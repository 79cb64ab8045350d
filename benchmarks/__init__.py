"""What the benchmark commands measure (`experiments.benchmark`, `benchmark_llm`): training
and embedded-LLM speed, and the PyTorch reference models they compare with. Defines no
flags."""
