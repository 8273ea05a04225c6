"""Run ASGI applications on AWS Lambda."""

from adapter.exceptions import (
    AdapterError,
    BatchFailed,
    ConfigurationError,
    EventError,
    InvalidPayload,
    InvalidResponse,
    LifespanError,
    MalformedEvent,
    UnsupportedEvent,
)
from adapter.handler import LambdaAdapter

__version__ = "0.1.0"

__all__ = [
    "AdapterError",
    "BatchFailed",
    "ConfigurationError",
    "EventError",
    "InvalidPayload",
    "InvalidResponse",
    "LambdaAdapter",
    "LifespanError",
    "MalformedEvent",
    "UnsupportedEvent",
    "__version__",
]
