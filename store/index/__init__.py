"""The store-level index: its catalog, batch files, the indexer that keeps them current, and their collection."""
