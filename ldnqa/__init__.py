"""ldnqa: answers about low-dose naltrexone for fibromyalgia, quoted and cited from its sources.

`from ldnqa import Assistant` is cheap: the model, FAISS and the web app load only when used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Assistant", "Answer", "Citation", "LdnqaError", "__version__"]

if TYPE_CHECKING:
    from .assistant import Assistant
    from .errors import LdnqaError
    from .types import Answer, Citation


def __getattr__(name: str) -> Any:
    if name == "Assistant":
        from .assistant import Assistant

        return Assistant
    if name in ("Answer", "Citation"):
        from . import types

        return getattr(types, name)
    if name == "LdnqaError":
        from .errors import LdnqaError

        return LdnqaError
    raise AttributeError(f"module 'ldnqa' has no attribute {name!r}")
