"""ml_collections ConfigDicts of the commands (`--config=experiments/configs/NAME.py`),
one commented line per field."""
