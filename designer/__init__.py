"""The designer: where analysts edit, test, try and publish definitions.

``api`` is its JSON API (/api/definitions), ``pages`` its pages (/definitions),
``views`` what both show. The web app (``web.app``) mounts them.
"""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
