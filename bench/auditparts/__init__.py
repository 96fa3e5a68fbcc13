"""The parts of `python -m bench.audit` (issue 10's benchmark), private so `make bench` runs the whole only.

`event` makes the one generated event (real chain and seal code, ingested through the real
`upload_journal`); `integrity`, `crossgate`, `search`, `dashboard` and `sync` each time one thing of
it; `table` prints the rows.
"""
