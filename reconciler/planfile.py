"""The saved plan: a :class:`~reconciler.models.Plan` as versioned JSON data and back.

``plan --json`` and ``plan -o FILE`` write the same document (``docs/plan-format.md``): the
summary people and scripts read (``changes``, ``summary``) and, under ``contract``, the whole
plan ``apply FILE`` executes (every step's packages, index options, strategy, extra files,
source fingerprints, blocked reasons). cattrs converts at this edge only; the rest of the code
sees frozen values. A plan file never holds a credential: every URL's userinfo is written as
``****`` (:func:`with_credentials` takes it back from the plan computed again at apply time).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import PlanFileError
from reconciler.models import Action, Plan, Strategy
from reconciler.support.redact import redact
from reconciler.support.values import MISSING, fields, is_value_class

if TYPE_CHECKING:
    import cattrs

#: Version of the plan document (additive changes keep it); a reader refuses any other.
FORMAT_VERSION = 1
#: Version of the ``contract`` object; a reader refuses any other.
CONTRACT_VERSION = 1

_CONVERTER: list[cattrs.Converter] = []


def _converter() -> cattrs.Converter:
    """The converter for plans: strict scalars (no ``"1"`` for a bool), no unknown keys."""
    if _CONVERTER:
        return _CONVERTER[0]
    import cattrs  # noqa: PLC0415 - start-up: only `plan --json`, `plan -o` and `apply FILE` pay

    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_unstructure_hook(Path, str)
    conv.register_structure_hook(Path, lambda value, _: Path(_exact(value, str)))
    for kind in (str, bool, int):
        conv.register_structure_hook(kind, _exact)
    for choice in (Action, Strategy):
        conv.register_structure_hook(choice, lambda value, cls: cls(_exact(value, str)))
    conv.register_structure_hook_factory(_is_tuple, lambda cls: _tuple_hook(cls, conv))
    conv.register_structure_hook_factory(is_value_class, lambda cls: _value_hook(cls, conv))
    conv.register_unstructure_hook_factory(is_value_class, lambda cls: _value_data_hook(cls, conv))
    _CONVERTER.append(conv)
    return conv


def _value_hook(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """Structure a ``@frozen`` class from a JSON object as cattrs structures an attrs class
    (``forbid_extra_keys``, detailed validation): every field's error is collected with a note
    naming the field, so :func:`_where` reads the same dotted keys."""
    from cattrs.errors import (  # noqa: PLC0415 - see _converter
        AttributeValidationNote,
        ClassValidationError,
        ForbiddenExtraKeysError,
    )

    hints = typing.get_type_hints(cls)
    specs = [
        (
            spec.name,
            hints[spec.name],
            conv.get_structure_hook(hints[spec.name]),
            spec.default is not MISSING or spec.factory is not None,
        )
        for spec in fields(cls)
    ]
    allowed = {name for name, *_ in specs}

    def structure(data: Any, _: Any) -> Any:
        errors: list[Exception] = []
        found: dict[str, Any] = {}
        for name, kind, hook, optional in specs:
            if optional and name not in data:
                continue
            try:
                found[name] = hook(data[name], kind)
            except Exception as exc:  # collected, raised below as cattrs does
                note = AttributeValidationNote(
                    f"Structuring class {cls.__qualname__} @ attribute {name}", name, kind
                )
                exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        unknown = set(data.keys()) - allowed
        if unknown:
            errors.append(ForbiddenExtraKeysError("", cls, unknown))
        if errors:
            raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)
        try:
            return cls(**found)
        except Exception as exc:
            raise ClassValidationError(f"While structuring {cls.__name__}", [exc], cls) from exc

    return structure


def _value_data_hook(cls: Any, conv: cattrs.Converter) -> Callable[[Any], dict[str, Any]]:
    """Unstructure a ``@frozen`` class to a dict of its fields, in order."""
    names = [spec.name for spec in fields(cls)]
    return lambda value: {name: conv.unstructure(getattr(value, name)) for name in names}


def _is_tuple(cls: Any) -> bool:
    origin: object = typing.get_origin(cls)
    return origin is tuple


def _tuple_hook(cls: Any, conv: cattrs.Converter) -> Callable[[object, Any], tuple[Any, ...]]:
    """Structure ``tuple[X, ...]`` and ``tuple[X, Y]`` from a JSON list only (a string is
    not a tuple of its characters), a fixed-size one of exactly its size."""
    from cattrs.cols import homogenous_tuple_structure_factory  # noqa: PLC0415 - see _converter

    args = typing.get_args(cls)
    if len(args) == 2 and args[1] is Ellipsis:
        items = homogenous_tuple_structure_factory(cls, conv)
        return lambda value, kind: items(_exact(value, list), kind)
    hooks = [conv.get_structure_hook(arg) for arg in args]

    def fixed(value: object, _: Any) -> tuple[Any, ...]:
        found = _exact(value, list)
        if len(found) != len(args):
            raise ValueError(f"expected {len(args)} items, found {len(found)}")
        return tuple(hook(v, arg) for hook, v, arg in zip(hooks, found, args, strict=True))

    return fixed


def _exact(value: object, cls: type[Any]) -> Any:
    """``value`` when it is of JSON type ``cls`` (a bool is not an int here), else TypeError."""
    if type(value) is not cls:
        raise TypeError(f"expected {cls.__name__}, found {type(value).__name__}")
    return value


def contract(plan: Plan) -> dict[str, Any]:
    """``plan`` as the ``contract`` object of a plan document (its fingerprint is the
    document's own ``fingerprint``); every URL's credentials redacted."""
    data = _data(plan)
    del data["fingerprint"]
    redacted: dict[str, Any] = _redacted(data)
    return {"version": CONTRACT_VERSION, **redacted}


def _redacted(data: Any) -> Any:
    """JSON ``data`` with every URL's credentials redacted (only strings holding an ``@``
    can hold any)."""
    if isinstance(data, str):
        return redact(data) if "@" in data else data
    if isinstance(data, dict):
        return {key: _redacted(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_redacted(item) for item in data]
    return data


def _data(plan: Plan) -> dict[str, Any]:
    """``plan`` as JSON data (lists, strings, numbers), as it would read back from a file."""
    data: dict[str, Any] = json.loads(json.dumps(_converter().unstructure(plan)))
    return data


def read_plan(text: str, path: Path) -> Plan:
    """The plan a plan document (``plan -o``'s output) holds, or :class:`PlanFileError`
    naming the file and the key that is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanFileError("not a plan file (invalid JSON)", file=path) from exc
    except RecursionError:  # json recurses per nested array or object
        raise PlanFileError("not a plan file (nested too deeply)", file=path) from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanFileError("not a plan file (no format_version)", file=path)
    if data["format_version"] != FORMAT_VERSION:
        raise PlanFileError(
            f"unsupported plan format_version {data['format_version']!r} "
            f"(this reconciler reads {FORMAT_VERSION})",
            file=path,
        )
    fingerprint = data.get("fingerprint")
    if not isinstance(fingerprint, str):
        raise PlanFileError("not a plan file (no fingerprint)", file=path)
    body = data.get("contract")
    if not isinstance(body, dict):
        raise PlanFileError(
            "no contract in this plan file (made by an older reconciler?); run plan -o again",
            file=path,
        )
    body = dict(body)
    version = body.pop("version", None)
    if version != CONTRACT_VERSION:
        raise PlanFileError(
            f"unsupported contract version {version!r} (this reconciler reads {CONTRACT_VERSION})",
            file=path,
            key="contract.version",
        )
    return structure(body, fingerprint, path)


def structure(body: dict[str, Any], fingerprint: str, path: Path) -> Plan:
    """The plan ``body`` (a ``contract`` without its version) describes, with ``fingerprint``."""
    import cattrs  # noqa: PLC0415 - start-up: only `apply FILE` pays

    try:
        plan: Plan = _converter().structure({**body, "fingerprint": fingerprint}, Plan)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        key, message = _where(exc)
        raise PlanFileError("not a valid plan", file=path, key=key, cause=message) from exc
    return plan


def _where(exc: Exception) -> tuple[str | None, str]:
    """The dotted key (``contract.steps[0].action``) and message of the first error cattrs
    found in a contract."""
    import cattrs  # noqa: PLC0415 - start-up: error path only

    if not isinstance(exc, cattrs.BaseValidationError):
        return None, str(exc)
    first = cattrs.transform_error(exc, path="contract")[0]
    message, _, key = first.rpartition(" @ ")
    return (key, message) if message else (None, first)


def with_credentials(saved: Plan, current: Plan) -> Plan:
    """``saved`` with each URL whose credentials a plan file shows as ``****`` taken from
    ``current`` (the same plan computed again; the caller checked that both say the same)."""
    conv = _converter()
    merged = _merge(_data(saved), _data(current))
    plan: Plan = conv.structure(merged, Plan)
    return plan


def _merge(saved: object, current: object) -> object:
    if isinstance(saved, str):
        return current if isinstance(current, str) and redact(current) == saved else saved
    if isinstance(saved, dict) and isinstance(current, dict):
        return {k: _merge(v, current.get(k)) for k, v in saved.items()}
    if not isinstance(saved, list | tuple) or not isinstance(current, list | tuple):
        return saved
    if len(saved) != len(current):
        return saved
    return [_merge(a, b) for a, b in zip(saved, current, strict=True)]
