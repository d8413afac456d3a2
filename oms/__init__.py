"""Application plumbing shared by the worker and the web app: settings, database, CLI."""
