"""Repository upkeep: commands that rewrite files derived from the tree (`python -m
tools.build_file` writes BUILD from the imports of every module). Nothing in the library,
the data preparation or the experiments imports this package, and it is not installed."""
