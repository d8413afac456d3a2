"""Typed business failures, raised by services and mapped once at each edge.

A service says *what* went wrong (a stable ``code``, the ``field`` it is about,
a message for people); the web layer turns the class into an HTTP status
(``web/errors.py``) and the activity layer into a Temporal ``ApplicationError``
whose type is the code (``activities/failures.py``). No service knows either.
"""

from __future__ import annotations

from typing import Any

from services.phrases import Phrase


class DomainError(Exception):
    """Base of every business failure. Subclasses say which kind it is.

    ``message`` is English text, or a ``Phrase`` whose English is the message and whose
    wording the pages translate (``services.error_words``).
    """

    def __init__(
        self,
        code: str,
        message: str | Phrase,
        *,
        field: str | None = None,
        details: Any = None,
        retryable: bool = False,
    ):
        self.phrase = message if isinstance(message, Phrase) else None
        text = message.text if isinstance(message, Phrase) else message
        super().__init__(text)
        self.code = code
        self.message = text
        self.field = field
        self.details = details
        # For activities: a passing condition (contention, a row not committed yet) Temporal should retry.
        self.retryable = retryable


class Invalid(DomainError):
    """The input breaks a rule of its own: a field, a definition, a payload."""


class NotFound(DomainError):
    """What the request names does not exist (or is not visible to the caller)."""


class Conflict(DomainError):
    """The input is fine but the thing it acts on is not in a state that takes it."""


class Forbidden(DomainError):
    """The caller may not do this to this thing."""


class Unauthenticated(DomainError):
    """A signature or credential is missing or wrong."""


class Unavailable(DomainError):
    """A dependency (the workflow service, a full queue) cannot take it now; try again later."""


class StepFailed(DomainError):
    """A flow step cannot do its work; the flow's ``on_error`` decides by ``code``."""
