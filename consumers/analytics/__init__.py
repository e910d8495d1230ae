"""The analytics family: SQL views over a store (``sql``, ``tables``, ``compact``), exports and tables
(``export``, ``formats``), chart series (``series``, ``downsample``), plots and the notebook API."""
