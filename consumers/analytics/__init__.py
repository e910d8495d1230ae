"""The analytics family: SQL views over a store (``sql``, ``sql_guard``), exports and tables (``export``,
``formats``), plots and the notebook API — all reading through the store's read model."""
