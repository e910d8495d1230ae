"""The console family: what `ol train` and `ol tail` show while a run writes (``view``), the fold of
events behind it (``fold``), and `ol events`' one line per event (``event_lines``)."""
