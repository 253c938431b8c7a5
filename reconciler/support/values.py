"""reconciler's frozen value classes: ``@frozen``, :func:`field`, :func:`evolve`, :func:`fields`
and :func:`asdict`, with attrs' meaning for the part of attrs the domain values used.

Why not attrs (the stack's choice, kept at the cattrs edge: ``sources/toml_raw.py``): importing
attrs costs ~100M instructions (it loads ``inspect``, ``ast``, ``dis``, ``tokenize``, ``platform``)
and each class compiles its own ``__init__`` (~2M each; a no-op ``plan`` builds ~30). Together
that was ~40% of a no-op ``plan``'s instructions above the interpreter's start-up (issue 20's
budget is ``python -c pass`` + 60 ms). Here a class costs one ``type()`` call: ``__repr__``,
``__eq__``, ``__hash__`` are shared functions over the class's field list, and so is
``__init__`` until the class has made :data:`COMPILE_AFTER` instances in the run; only then is
an ``__init__`` compiled for it, as attrs writes one (a lock's packages and a venv's
distributions are made by the hundred, most classes a few times).

A ``@frozen`` class is slotted and immutable (assigning raises :class:`FrozenInstanceError`, an
``AttributeError``, as attrs' does); its fields are its annotations in order, each default the
class attribute of that name or a :func:`field`. ``__init__`` takes the fields positionally or
by name (defaults are shared, as in attrs; ``field(factory=...)`` makes a new one per
instance, ``takes_self=True`` passes the half-made instance). ``__repr__`` is attrs' format
over the fields with ``repr=True``; two instances are equal when of the very same class with
equal ``eq=True`` fields, and hash the same way. mypy reads the classes through
``typing.dataclass_transform``. tests/test_values.py checks each behaviour against attrs'.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    dataclass_transform,
    get_origin,
    overload,
)

__all__ = [
    "MISSING",
    "Field",
    "FrozenInstanceError",
    "NotAValueClassError",
    "asdict",
    "evolve",
    "field",
    "fields",
    "frozen",
    "is_value_class",
]

_T = TypeVar("_T")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: A field without a default (:attr:`Field.default`).
MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen value."""

    def __init__(self) -> None:
        super().__init__("can't set attribute")


class NotAValueClassError(TypeError):
    """:func:`fields`, :func:`evolve` or :func:`asdict` on something not ``@frozen``."""


class Field:
    """One field: its ``name``, its annotation as written (``type``), ``default`` (or
    :data:`MISSING`), ``factory`` and ``takes_self``, and whether ``eq`` and ``repr`` use it."""

    __slots__ = ("default", "eq", "factory", "name", "repr", "takes_self", "type")

    def __init__(
        self,
        default: Any = MISSING,
        factory: Callable[..., Any] | None = None,
        takes_self: bool = False,
        eq: bool = True,
        repr: bool = True,
    ) -> None:
        if default is not MISSING and factory is not None:
            raise TypeError("a field takes a default or a factory, not both")
        self.name = ""
        self.type: object = None
        self.default = default
        self.factory = factory
        self.takes_self = takes_self
        self.eq = eq
        self.repr = repr

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, type={self.type!r}, default={self.default!r})"


@overload
def field(*, eq: bool = True, repr: bool = True) -> Any: ...


@overload
def field(*, default: _T, eq: bool = True, repr: bool = True) -> _T: ...


@overload
def field(
    *,
    factory: Callable[[], _T],
    takes_self: Literal[False] = False,
    eq: bool = True,
    repr: bool = True,
) -> _T: ...


@overload
def field(
    *,
    factory: Callable[[Any], _T],
    takes_self: Literal[True],
    eq: bool = True,
    repr: bool = True,
) -> _T: ...


def field(
    *,
    default: Any = MISSING,
    factory: Callable[..., Any] | None = None,
    takes_self: bool = False,
    eq: bool = True,
    repr: bool = True,
) -> Any:
    """A field's settings, as its class attribute: ``x: T = field(default=..., eq=False)``
    (typed: a default or a factory's result must be of the field's type)."""
    return Field(default, factory, takes_self, eq, repr)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[_T]) -> type[_T]:
    """``cls`` as a slotted, frozen value class (see the module docstring)."""
    if "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: @frozen makes __slots__ itself")
    for hook in ("__init__", "__post_init__", "__attrs_post_init__"):
        if hook in cls.__dict__:  # attrs would keep or call it; a value here has no hooks
            raise TypeError(f"{cls.__qualname__}: @frozen writes __init__ itself (no {hook})")
    namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    own: list[Field] = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063 - the class's own, unevaluated (inspect costs start-up)
        if _is_class_var(annotation):
            continue
        given = namespace.pop(name, MISSING)
        spec = given if isinstance(given, Field) else Field(default=given)
        spec.name = name
        spec.type = annotation
        own.append(spec)
    # the nearest value base's fields (they hold its own bases'), less those redefined here
    base_fields: tuple[Field, ...] = next(
        (
            b.__dict__["__value_fields__"]
            for b in cls.__mro__[1:]
            if "__value_fields__" in b.__dict__
        ),
        (),
    )
    redefined = {spec.name for spec in own}
    inherited = tuple(spec for spec in base_fields if spec.name not in redefined)
    all_fields = (*inherited, *own)
    required_after_default = False
    for spec in all_fields:
        if spec.default is MISSING and spec.factory is None:
            if required_after_default:
                raise TypeError(f"{cls.__qualname__}: no default for {spec.name!r} after a default")
        else:
            required_after_default = True

    slotted = {name for b in cls.__mro__[1:] for name in b.__dict__.get("__slots__", ())}
    weak = any(hasattr(b, "__weakref__") for b in cls.__bases__)
    namespace["__slots__"] = (
        *(spec.name for spec in own if spec.name not in slotted),
        *(() if weak else ("__weakref__",)),  # as attrs' slotted classes: weakref-able
    )
    namespace["__value_fields__"] = all_fields
    namespace["__qualname__"] = cls.__qualname__
    namespace["__match_args__"] = tuple(spec.name for spec in all_fields)
    for name, method in _METHODS.items():
        if name not in namespace:  # a class's own method wins
            namespace[name] = method
    namespace["__signature__"] = _Signature()
    meta: Any = type(cls)
    made: type[_T] = meta(cls.__name__, cls.__bases__, namespace)
    type.__setattr__(made, "__init__", _init_for(made, all_fields))  # needs the slots made
    _repoint_class_cells(namespace, cls, made)
    return made


def _is_class_var(annotation: object) -> bool:
    """Whether an annotation is ``ClassVar[...]`` (written as text, as attrs tells it, or as
    the object)."""
    if isinstance(annotation, str):
        text = annotation.strip("'\"")
        return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar", "typing_extensions."))
    return get_origin(annotation) is ClassVar or annotation is ClassVar


def _repoint_class_cells(namespace: dict[str, Any], old: type, new: type) -> None:
    """Methods that use ``super()`` or ``__class__`` hold the class the body made in a cell;
    point them at the class that replaced it (as attrs does for its slotted classes)."""
    for item in namespace.values():
        function = item
        if isinstance(item, (classmethod, staticmethod)):
            function = item.__func__
        elif isinstance(item, property):
            function = item.fget
        for cell in getattr(function, "__closure__", None) or ():
            try:
                if cell.cell_contents is old:
                    cell.cell_contents = new
            except ValueError:  # an empty cell
                continue


#: A class whose instances are made this often in one run gets a compiled ``__init__``: about
#: as many generic calls as a compile costs (~1.2 us more a call; 130-250 us a compile), so a
#: class made once per venv compiles only in a plan of hundreds (each compile that a larger
#: project pays and a smaller one does not is start-up the larger one pays per venv).
COMPILE_AFTER = 128


def _init_for(cls: type, all_fields: tuple[Field, ...]) -> Callable[..., None]:
    """The first ``__init__`` of ``cls`` with ``all_fields``: one loop over the fields, each set
    through its slot's descriptor, no generated code (~2 us an instance, twice attrs' compiled
    ``__init__``, against ~0.2 ms a class to compile one). Once the class has made
    :data:`COMPILE_AFTER` instances (a lock's packages, a venv's distributions: hundreds in one
    plan) it is replaced by a compiled one (:func:`_compiled_init`), so a class costs compile
    time only where that pays."""
    qualname = cls.__qualname__
    names = tuple(spec.name for spec in all_fields)
    puts = tuple(getattr(cls, name).__set__ for name in names)  # the slots' own setters
    plan = tuple(
        (spec.name, put, spec.default, spec.factory, spec.takes_self)
        for spec, put in zip(all_fields, puts, strict=True)
    )
    known = frozenset(names)
    count = len(names)
    made = 0

    def __init__(self: object, /, *args: Any, **kwargs: Any) -> None:
        nonlocal made
        made += 1
        if made == COMPILE_AFTER and cls.__dict__.get("__init__") is __init__:
            type.__setattr__(cls, "__init__", _compiled_init(cls, all_fields, __init__))
        if args:
            if len(args) == count and not kwargs:  # every field, in order: the common call
                for put, value in zip(puts, args, strict=True):
                    put(self, value)
                return
            if len(args) > count:
                raise TypeError(
                    f"{qualname}.__init__() takes {count + 1} positional arguments "
                    f"but {len(args) + 1} were given"
                )
            for name, value in zip(names, args, strict=False):
                if name in kwargs:
                    raise TypeError(
                        f"{qualname}.__init__() got multiple values for argument {name!r}"
                    )
                kwargs[name] = value
        if not kwargs.keys() <= known:
            unknown = sorted(kwargs.keys() - known)[0]
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {unknown!r}")
        get = kwargs.get
        for name, put, default, factory, takes_self in plan:
            value = get(name, default)
            if value is MISSING:
                if factory is None:
                    missing = [n for n, _, d, f, _ in plan if d is MISSING and f is None]
                    missing = [n for n in missing if n not in kwargs]
                    raise TypeError(
                        f"{qualname}.__init__() missing {len(missing)} required argument"
                        f"{'s' if len(missing) > 1 else ''}: {', '.join(map(repr, missing))}"
                    )
                value = factory(self) if takes_self else factory()
            put(self, value)

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


def _compiled_init(
    cls: type, all_fields: tuple[Field, ...], generic: Callable[..., None]
) -> Callable[..., None]:
    """A compiled ``__init__`` for ``cls``, as attrs writes one: each field a parameter (its
    default the field's, a factory's field :data:`MISSING` until called), set through its slot.
    ``generic`` stays where a field's name cannot be a parameter's."""
    import keyword  # noqa: PLC0415 - only when a class compiles its __init__

    names = [spec.name for spec in all_fields]
    if any(
        not name.isidentifier()
        or keyword.iskeyword(name)
        or name == "self"
        or name.startswith("_v_")
        for name in names
    ):
        return generic
    scope: dict[str, Any] = {"_v_MISSING": MISSING}
    parameters: list[str] = []
    body: list[str] = []
    for spec in all_fields:
        name = spec.name
        scope[f"_v_put_{name}"] = getattr(cls, name).__set__
        if spec.factory is not None:
            scope[f"_v_factory_{name}"] = spec.factory
            parameters.append(f"{name}=_v_MISSING")
            made = f"_v_factory_{name}({'self' if spec.takes_self else ''})"
            body.append(f"    if {name} is _v_MISSING:\n        {name} = {made}\n")
        elif spec.default is not MISSING:
            scope[f"_v_default_{name}"] = spec.default
            parameters.append(f"{name}=_v_default_{name}")
        else:
            parameters.append(name)
        body.append(f"    _v_put_{name}(self, {name})\n")
    lines = "".join(body) or "    pass\n"
    source = f"def __init__(self, {', '.join(parameters)}):\n{lines}"
    where = f"<@frozen {cls.__qualname__}.__init__>"
    exec(compile(source, where, "exec"), scope)  # noqa: S102 - our own text, field names checked
    compiled: Callable[..., None] = scope["__init__"]
    compiled.__qualname__ = f"{cls.__qualname__}.__init__"
    return compiled


class _Signature:
    """``cls.__signature__``, made on first use (``inspect`` costs start-up): the fields as
    parameters with their types, for ``inspect.signature`` and hypothesis' ``builds``."""

    def __get__(self, instance: object, owner: type) -> Any:
        import contextlib  # noqa: PLC0415 - start-up: only introspection pays
        import inspect  # noqa: PLC0415 - start-up: only introspection pays
        import typing  # noqa: PLC0415 - see above

        try:
            hints = typing.get_type_hints(owner)
        except NameError:  # a name imported for type checking only: resolve field by field
            hints = {}
            for spec in fields(owner):
                with contextlib.suppress(NameError):
                    hints[spec.name] = typing.get_type_hints(
                        type(
                            "_One",
                            (),
                            {
                                "__annotations__": {spec.name: spec.type},
                                "__module__": owner.__module__,
                            },
                        )
                    )[spec.name]
        parameters = [
            inspect.Parameter(
                spec.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=(  # a factory's field shows MISSING, as attrs' show NOTHING
                    inspect.Parameter.empty
                    if spec.default is MISSING and spec.factory is None
                    else spec.default
                ),
                annotation=hints.get(spec.name, spec.type),
            )
            for spec in fields(owner)
        ]
        signature = inspect.Signature(parameters, return_annotation=None)
        type.__setattr__(owner, "__signature__", signature)  # made once
        return signature


#: Per class: a function giving the tuple of the values ``__eq__`` and ``__hash__`` compare.
_KEYS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _key(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    found = _KEYS.get(cls)
    if found is not None:
        return found
    names = [spec.name for spec in fields(cls) if spec.eq]
    if len(names) > 1:
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


def _repr(self: object) -> str:
    shown = [
        f"{spec.name}={getattr(self, spec.name)!r}" for spec in fields(type(self)) if spec.repr
    ]
    return f"{type(self).__qualname__.rsplit('>.', 1)[-1]}({', '.join(shown)})"


def _eq(self: object, other: object) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = _key(type(self))
    return bool(key(self) == key(other))


def _ne(self: object, other: object) -> Any:
    result = _eq(self, other)
    return result if result is NotImplemented else not result


def _hash(self: object) -> int:
    return hash((type(self).__qualname__, *_key(type(self))(self)))


def _setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError


def _delattr(self: object, name: str) -> None:
    raise FrozenInstanceError


def _getstate(self: object) -> dict[str, Any]:
    return {spec.name: getattr(self, spec.name) for spec in fields(type(self))}


def _setstate(self: object, state: dict[str, Any]) -> None:
    for name, value in state.items():
        object.__setattr__(self, name, value)


_METHODS: dict[str, Callable[..., Any]] = {
    "__repr__": _repr,
    "__eq__": _eq,
    "__ne__": _ne,
    "__hash__": _hash,
    "__setattr__": _setattr,
    "__delattr__": _delattr,
    "__getstate__": _getstate,
    "__setstate__": _setstate,
}


def is_value_class(cls: object) -> bool:
    """Whether ``cls`` is a ``@frozen`` class."""
    return isinstance(cls, type) and hasattr(cls, "__value_fields__")


def fields(cls: type) -> tuple[Field, ...]:
    """The fields of a ``@frozen`` class, in order."""
    found: tuple[Field, ...] | None = getattr(cls, "__value_fields__", None)  # a subclass too
    if found is None:
        raise NotAValueClassError(f"{cls!r} is not a @frozen class")
    return found


def _evolve(inst: _T, **changes: Any) -> _T:
    """A copy of ``inst`` with ``changes`` (made by its ``__init__``, as attrs' ``evolve``)."""
    cls = type(inst)
    values = {spec.name: getattr(inst, spec.name) for spec in fields(cls)}
    unknown = changes.keys() - values.keys()
    if unknown:
        raise TypeError(f"{cls.__qualname__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return cls(**values)


if TYPE_CHECKING:
    # mypy checks ``evolve``'s keywords against the class's fields as it checks
    # ``dataclasses.replace`` (the @frozen classes are dataclass-like to it), as attrs' plugin did
    from dataclasses import replace as evolve
else:
    evolve = _evolve

#: Values :func:`asdict` keeps as they are.
_ATOMIC = frozenset({int, str, float, bool, type(None), bytes, complex})

Serializer = Callable[[Any, "Field | None", Any], Any]


def asdict(inst: object, *, value_serializer: Serializer | None = None) -> dict[str, Any]:
    """``inst``'s fields as a dict, recursing into values, tuples, lists, sets and dicts (each
    collection kept of its own type), ``value_serializer(owner, field, value)`` applied first to
    each field and item: ``attrs.asdict`` with its default options."""
    out: dict[str, Any] = {}
    for spec in fields(type(inst)):
        value = getattr(inst, spec.name)
        if value_serializer is not None:
            value = value_serializer(inst, spec, value)
        out[spec.name] = _recurse(value, value_serializer, serialized=True)
    return out


def _recurse(value: Any, serializer: Serializer | None, *, serialized: bool) -> Any:  # noqa: PLR0911 - one return per kind, as attrs' asdict
    kind = type(value)
    if kind in _ATOMIC:
        return serializer(None, None, value) if serializer and not serialized else value
    if is_value_class(kind):
        return asdict(value, value_serializer=serializer)
    if issubclass(kind, (tuple, list, set, frozenset)):
        items = [_recurse(item, serializer, serialized=False) for item in value]
        try:
            return kind(items)
        except TypeError:  # a namedtuple takes its items one by one, as attrs tries next
            if not issubclass(kind, tuple):
                raise
            return kind(*items)
    if issubclass(kind, dict):  # a plain dict whatever the mapping's class, as attrs makes
        return {
            _recurse(k, serializer, serialized=False): _recurse(v, serializer, serialized=False)
            for k, v in value.items()
        }
    if serializer is not None and not serialized:
        return serializer(None, None, value)
    return value
