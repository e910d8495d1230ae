"""`ol ui`: the browser dashboard, one more consumer of the log (see app.py for the HTTP side)."""
