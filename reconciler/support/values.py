"""The base of reconciler's attrs value classes: one ``__repr__`` shared by all of them.

attrs compiles a ``__repr__`` for every class it builds (~0.2 ms of start-up each, a third of
what a class costs); the ~30 classes a ``plan`` loads are declared ``repr=False`` on this base
instead, whose ``__repr__`` prints exactly what attrs' would: ``Name(field=value, ...)`` with
the fields attrs shows.
"""

from __future__ import annotations


class Value:
    """Mixed into an ``@attrs.frozen(repr=False)`` / ``@attrs.define(repr=False)`` class."""

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
