"""Route handlers: pages and htmx fragments (one module per area) and the JSON API (api.py)."""
