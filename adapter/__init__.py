"""Run ASGI applications on AWS Lambda."""

from adapter.exceptions import (
    AdapterError,
    ConfigurationError,
    EventError,
    LifespanError,
    MalformedEvent,
    UnsupportedEvent,
)
from adapter.handler import LambdaAdapter

__version__ = "0.1.0"

__all__ = [
    "AdapterError",
    "ConfigurationError",
    "EventError",
    "LambdaAdapter",
    "LifespanError",
    "MalformedEvent",
    "UnsupportedEvent",
    "__version__",
]
