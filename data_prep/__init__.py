"""Raw corpora -> validated features -> what the library reads. The command modules here
(`python -m data_prep.build`, `validate`, `synthetic`, `corpus_suite`, `pjf_validate`,
`pjf_convert`, `pjf_synthetic`) are thin; the work is in `hirenet` (interview corpora)
and `pjf` (person-job-fit corpora). Never imports experiments or benchmarks."""
