"""Response bodies of the JSON API, one module per resource: what /openapi.json describes."""
