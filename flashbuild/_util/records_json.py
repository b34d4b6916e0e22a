"""Frozen dataclass records to JSON data and back, checked against their annotations.

Used for cached results: reading one back builds only the declared record
types from plain JSON, checking every value against its field's annotation,
so a cache entry is data that can be rejected, never code that runs (as an
unpickled one could).
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
from functools import cache
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

Record = TypeVar("Record")
_SCALARS = (str, int, float, bool)


def to_data(value: Any) -> Any:
    """JSON data of a record: dataclasses become objects, tuples lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_data(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_data(item) for key, item in value.items()}
    if value is None or isinstance(value, _SCALARS):
        return value
    raise TypeError(f"{type(value).__name__} is not record data")


def from_data(kind: type[Record], data: Any) -> Record:
    """The ``kind`` record that ``data`` describes; ValueError if it describes none."""
    result: Record = _decode(kind, data)
    return result


def _decode(kind: Any, data: Any) -> Any:
    if kind is object or kind is Any:
        return _plain(data)
    if dataclasses.is_dataclass(kind):
        return _record(kind, data)
    origin = get_origin(kind)
    if origin is tuple:
        return _tuple(get_args(kind), data)
    if origin in (Union, types.UnionType):
        return _union(get_args(kind), data)
    if origin is Literal:
        if data in get_args(kind) and type(data) in _SCALARS:
            return data
        raise ValueError(f"{data!r} is none of {get_args(kind)}")
    if kind is type(None):
        if data is None:
            return None
        raise ValueError(f"{data!r} is not null")
    if (kind in _SCALARS and type(data) is kind) or (kind is float and type(data) is int):
        return data
    raise ValueError(f"{data!r} is not a {getattr(kind, '__name__', kind)}")


def _record(kind: Any, data: Any) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{kind.__name__} needs an object")
    fields = _fields(kind)
    if set(data) != set(fields):
        raise ValueError(f"{kind.__name__} fields differ: {sorted(data)}")
    return kind(**{name: _decode(hint, data[name]) for name, hint in fields.items()})


@cache
def _fields(kind: type) -> dict[str, Any]:
    """A record's init fields with their resolved annotations."""
    hints = get_type_hints(kind)
    return {f.name: hints[f.name] for f in dataclasses.fields(kind) if f.init}


def _tuple(arguments: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise ValueError("a tuple needs a list")
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        return tuple(_decode(arguments[0], item) for item in data)
    if len(arguments) != len(data):
        raise ValueError(f"a tuple of {len(arguments)} got {len(data)} items")
    return tuple(_decode(argument, item) for argument, item in zip(arguments, data, strict=True))


def _union(arguments: tuple[Any, ...], data: Any) -> Any:
    for argument in arguments:
        with contextlib.suppress(ValueError):
            return _decode(argument, data)
    raise ValueError(f"{data!r} fits none of {arguments}")


def _plain(data: Any) -> Any:
    """JSON data as it is, after checking it is nothing else."""
    if isinstance(data, list):
        return [_plain(item) for item in data]
    if isinstance(data, dict) and all(isinstance(key, str) for key in data):
        return {key: _plain(item) for key, item in data.items()}
    if data is None or isinstance(data, _SCALARS):
        return data
    raise ValueError(f"{type(data).__name__} is not JSON data")
