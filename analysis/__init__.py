"""Russian state and military transport flights to Latin America: data, queries, charts."""
