"""Direct invocations: a Step Functions task, `aws lambda invoke`, another service's SDK call.

The payload is whatever JSON the caller sent; the handler's return value is the invocation's result. When the
handler raises, the Python runtime reports the error with `errorType` set to the exception's class name and
`errorMessage` to its message (`build_fault_result` in awslambdaric's bootstrap.py), and those are what a state
machine's `Retry` and `Catch` match in `ErrorEquals`
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). `TaskError` lets a handler
choose that name without declaring a class for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from adapter.exceptions import ConfigurationError, InvalidPayload
from adapter.triggers.batch import callable_name

# The States Language reserves names that start with "States." for errors of its own:
# https://states-language.net/spec.html#error-names
_RESERVED_PREFIX = "States."


class TaskError(Exception):
    """An error for the caller of a direct invocation, reported under a name it can match.

    ```python
    raise TaskError("chunk 7 has no rows", error="EmptyChunk")   # errorType "EmptyChunk"

    class ChunkRejected(TaskError): ...                          # errorType "ChunkRejected"
    ```

    Lambda names an error after the exception's class, so `TaskError(message, error=name)` is an instance of a
    subclass of `TaskError` called `name` (one class per name, made once). `except TaskError` catches them all,
    and `error.error` is the name.
    """

    error: ClassVar[str] = "TaskError"
    _named: ClassVar[dict[str, type[TaskError]]] = {}

    def __new__(cls, message: str = "", *, error: str | None = None) -> TaskError:
        if error is None or error == cls.error:
            return super().__new__(cls, message)
        return super().__new__(cls.named(error), message)

    def __init__(self, message: str = "", *, error: str | None = None) -> None:
        super().__init__(message)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.error = _error_name(cls.__name__)

    @classmethod
    def named(cls, error: str) -> type[TaskError]:
        """The subclass of `TaskError` called `error`."""
        named = TaskError._named.get(error)
        if named is None:
            named = TaskError._named[error] = type(_error_name(error), (TaskError,), {"__module__": __name__})
        return named


def _error_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or name.startswith(_RESERVED_PREFIX):
        raise ConfigurationError(f"an error name must be a non-empty string not starting with 'States.', not {name!r}")
    return name


def payload_parser(payload: Callable[..., Any] | None) -> Callable[[Any], Any] | None:
    """How a handler's `payload=` option turns the JSON payload into its argument: a dataclass is built from the
    payload's members as keyword arguments; any other callable is called with the payload."""
    if payload is None:
        return None
    if not callable(payload):
        raise ConfigurationError(f"payload must be a dataclass or a callable that parses the payload, not {payload!r}")
    if isinstance(payload, type) and dataclasses.is_dataclass(payload):
        dataclass = payload

        def build(value: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected a JSON object, got {type(value).__name__}")
            return dataclass(**value)

        build.__qualname__ = payload.__qualname__
        return build
    return payload


def parse_payload(parser: Callable[[Any], Any], payload: Any, handler: str) -> Any:
    try:
        return parser(payload)
    except Exception as error:
        raise InvalidPayload(
            f"the payload for {handler} is not a valid {callable_name(parser)}: {type(error).__name__}: {error}"
        ) from error


def result_value(result: Any) -> Any:
    """What the handler returned, as Lambda serialises it; a dataclass becomes a JSON object."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return result


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """Whether `value` holds every member of `pattern`: nested objects match recursively, the rest by equality."""
    if not isinstance(value, dict):
        return False
    for key, expected in pattern.items():
        if key not in value:
            return False
        if isinstance(expected, Mapping):
            if not matches(expected, value[key]):
                return False
        elif value[key] != expected:
            return False
    return True
