"""The web app: JSON API and pages."""
