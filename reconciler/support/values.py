"""The base of reconciler's attrs value classes: one ``__repr__``, ``__eq__`` and ``__hash__``
shared by all of them.

attrs compiles these methods anew for every class it builds, well over half of what a class
costs at start-up (a no-op ``plan`` loads ~30 of them: ~20 ms). The classes are declared
``@attrs.frozen(repr=False, eq=False)`` on :class:`Value` instead, whose methods behave as
attrs' generated ones: ``Name(field=value, ...)`` over the fields attrs shows; equal when of
the very same class with equal compared fields (``eq=False`` fields left out, an ``eq`` key
applied); a hash of the same fields.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

#: Per class: a function giving the tuple of the values ``__eq__`` and ``__hash__`` compare.
_KEYS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _key(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    found = _KEYS.get(cls)
    if found is not None:
        return found
    fields = [f for f in getattr(cls, "__attrs_attrs__", ()) if f.eq]
    names = [f.name for f in fields]
    if any(f.eq_key is not None for f in fields):
        pairs = [(f.name, f.eq_key) for f in fields]

        def found(obj: Any) -> tuple[Any, ...]:
            return tuple(
                getattr(obj, name) if key is None else key(getattr(obj, name))
                for name, key in pairs
            )

    elif len(names) > 1:
        found = operator.attrgetter(*names)  # a tuple of the values, in C
    elif names:
        one = operator.attrgetter(names[0])

        def found(obj: Any) -> tuple[Any, ...]:
            return (one(obj),)

    else:

        def found(obj: Any) -> tuple[Any, ...]:
            return ()

    _KEYS[cls] = found
    return found


class Value:
    """Mixed into an ``@attrs.frozen(repr=False, eq=False)`` class (see the module docstring);
    an ``@attrs.define(repr=False)`` class keeps attrs' own ``__eq__`` (a mutable value is not
    hashable)."""

    __slots__ = ()

    def __repr__(self) -> str:
        shown = []
        for field in getattr(type(self), "__attrs_attrs__", ()):
            if field.repr is False:
                continue
            value = getattr(self, field.name)
            text = field.repr(value) if callable(field.repr) else repr(value)
            shown.append(f"{field.name}={text}")
        return f"{type(self).__qualname__.rsplit('>.', 1)[-1]}({', '.join(shown)})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        key = _key(type(self))
        return bool(key(self) == key(other))

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, *_key(type(self))(self)))
