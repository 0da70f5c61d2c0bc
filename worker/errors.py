"""One exception tree; every message names the thing and says what to do."""

from __future__ import annotations


class OutreachError(Exception):
    """Raised when the tool cannot do what was asked; the message says what to do."""


class ConfigError(OutreachError):
    """Raised when settings, the mailbox file or the environment are invalid."""


class NotFoundError(OutreachError):
    """Raised when a named sequence, lead, touch or mailbox does not exist."""


class FieldError(OutreachError):
    """Raised when one field of a request or an edit is invalid; ``field`` names it (the JSON
    API answers 422 with it, forms show the message beside it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class RefusedError(OutreachError):
    """Raised when an action does not apply to a lead as it stands (unsubscribed, in no
    sequence, decided); ``why`` is the short reason bulk actions count it under."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


class SequenceError(OutreachError):
    """Raised when a sequence file cannot be loaded or is invalid."""


class TemplateRenderError(OutreachError):
    """Raised when a template cannot be rendered for a lead (missing field, syntax, runtime)."""


class LeadImportError(OutreachError):
    """Raised when a leads file cannot be read at all (a bad row is reported, not raised)."""


class SuppressionError(OutreachError):
    """Raised when a suppression file cannot be read at all (a bad row is reported, not raised)."""


class DeliveryError(OutreachError):
    """Raised when a transport could not hand a message over."""


class TemporaryDeliveryError(DeliveryError):
    """Raised when delivery failed for now (SMTP 4xx, connection refused); retry later."""


class PermanentDeliveryError(DeliveryError):
    """Raised when delivery was refused for good (SMTP 5xx); do not retry."""


class DeliveryUnknownError(DeliveryError):
    """Raised when the connection broke after the message was handed over; it may have gone out."""


def did_you_mean(word: str, choices: list[str] | set[str]) -> str:
    """Return " — did you mean 'x'?" for the closest choice, or an empty string."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" — did you mean {close[0]!r}?" if close else ""
