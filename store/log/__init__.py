"""The log: its format, segments and frames, the writer and the reader, the one follower, verify and repair,
run directories."""
