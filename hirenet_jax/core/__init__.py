"""What both systems share: the masked GRU and additive attention, the loss, optimizer and
training loop, checkpoints, the device mesh, metrics and ranking (with the handshake), run
logs and curves, errors and the cache root. It imports nothing else of the library, so
HireNet and MockLLM can both stand on it."""
