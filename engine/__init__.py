"""Pure definition engine: parse, validate and compile YAML definitions.

Nothing in this package performs I/O or imports Temporal or the database.
"""
