"""The adapter's exceptions.

```
AdapterError
├── ConfigurationError   a bad option passed to LambdaAdapter
├── EventError           an event the adapter cannot turn into a request
│   ├── UnsupportedEvent an event of no shape the adapter knows
│   └── MalformedEvent   an event of a known shape with a missing or invalid field
│       └── InvalidPayload   a direct invocation's payload that its handler's parser refused
├── InvalidResponse      an ASGI response message that breaks the protocol (raised in the application's send)
├── BatchFailed          records of a non-HTTP event failed, and the whole invocation fails for them
└── LifespanError        the application's lifespan startup or shutdown failed
```
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base class of every exception the adapter raises."""


class ConfigurationError(AdapterError, ValueError):
    """An option given to `LambdaAdapter` is not valid."""


class EventError(AdapterError, ValueError):
    """The Lambda event cannot be turned into an ASGI request."""


class UnsupportedEvent(EventError):
    """The Lambda event is of no shape the adapter supports."""


class MalformedEvent(EventError):
    """The Lambda event looks like a supported shape but a field is missing or invalid."""


class InvalidPayload(MalformedEvent):
    """A direct invocation's payload could not be turned into the object its handler takes.

    Lambda reports it with the error type `InvalidPayload`, which a Step Functions `Catch` can match.
    """


class InvalidResponse(AdapterError, TypeError):
    """A message the application sent breaks the ASGI protocol (a body that is not bytes, a status outside
    100-599, headers that are not pairs of byte strings, messages out of order). It is raised in the application's
    `send`, and the client gets a 500, or the response cut short if it had started."""


class BatchFailed(AdapterError):
    """Records of a non-HTTP event failed and the invocation fails for them, so that the event is retried.

    Raised for a handler registered with `report_failures=False`; the first record's exception is its cause.
    """


class LifespanError(AdapterError):
    """The application's lifespan startup or shutdown failed."""
