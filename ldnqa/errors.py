"""ldnqa's own exception types. Each message says what went wrong and what the user can do about it."""
from __future__ import annotations


class LdnqaError(Exception):
    """Base class: the CLI prints `Error: <message>` and exits non-zero; the app shows the message."""


class CorpusError(LdnqaError):
    """The corpus folder is missing, empty, or a document in it cannot be read."""


class DocumentError(CorpusError):
    """One document cannot be used (bad front matter, unreadable PDF, ...). Loading skips it."""


class IndexStoreError(LdnqaError):
    """The index is missing, damaged, or was built with other settings."""


class ModelError(LdnqaError):
    """The embedding model cannot be loaded (not installed, wrong path)."""


class InputError(LdnqaError):
    """The user's input cannot be answered as given (empty, too long, malformed JSON)."""


class EngineUnavailable(LdnqaError):
    """No engine process can answer: all failed to start, or the one answering died (the web app: 503)."""
