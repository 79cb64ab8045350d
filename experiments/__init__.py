"""What a person runs: one thin command module per experiment (flags, a ConfigDict, one
library call), the start-up and data wiring they share (`common`, `pjf_common`), and
`configs/`."""
