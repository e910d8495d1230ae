"""The read side: the run record and the one fold, the resume rule, listings and snapshots, series, tables, curves."""
