"""reconciler.support.values: the frozen value classes behave as the attrs classes they replace
(issue 20: attrs' import and per-class code generation were ~40% of a no-op plan's start-up).
Each behaviour is checked against an attrs class of the same fields."""

from __future__ import annotations

import collections
import copy
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from builders import pkg
from hypothesis import given
from hypothesis import strategies as st

from reconciler.models import Action, IndexOptions, Plan, Step, Strategy
from reconciler.plan import content
from reconciler.support import values
from reconciler.support.values import MISSING, evolve, field, frozen


def _default_tag(self: Any) -> str:
    return f"tag-{self.name}"


@frozen
class Point:
    """A value with every kind of field: required, a shared default, a factory, a factory
    given the instance, one left out of eq and repr."""

    name: str
    size: int = 0
    tags: list[str] = field(factory=list)
    tag: str = field(factory=_default_tag, takes_self=True)
    note: str = field(default="", eq=False, repr=False)


@attrs.frozen
class PointTwin:
    name: str
    size: int = 0
    tags: list[str] = attrs.Factory(list)
    tag: str = attrs.Factory(_default_tag, takes_self=True)
    note: str = attrs.field(default="", eq=False, repr=False)


_CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("a",), {}),
    (("a", 2), {}),
    ((), {"name": "a", "size": 3, "tags": ["x"], "tag": "t", "note": "n"}),
    (("a", 2, ["x"], "t", "n"), {}),
    (("a",), {"tag": "given"}),
    ((), {"size": 1}),  # missing the required field
    ((), {}),
    (("a",), {"name": "b"}),  # given twice
    (("a",), {"colour": "red"}),  # unknown
    (("a", 1, [], "t", "n", "extra"), {}),  # too many
]


def _point_class() -> type[Point]:
    """A new class of Point's fields (its own count of instances made)."""

    @frozen
    class Point:
        name: str
        size: int = 0
        tags: list[str] = field(factory=list)
        tag: str = field(factory=_default_tag, takes_self=True)
        note: str = field(default="", eq=False, repr=False)

    return Point


@pytest.mark.parametrize("compiled", [False, True], ids=["generic", "compiled"])
def test_init_accepts_and_refuses_what_attrs_does(compiled: bool) -> None:
    """Both ``__init__``s (the generic one, and the one compiled once a class has made
    COMPILE_AFTER instances) take and refuse the calls attrs' does, with the same result."""
    cls = _point_class()
    if compiled:
        for _ in range(values.COMPILE_AFTER):
            cls("warm-up")
    assert ("<@frozen" in cls.__init__.__code__.co_filename) is compiled
    for args, kwargs in _CALLS:
        try:
            twin: object = PointTwin(*args, **kwargs)
        except TypeError:
            with pytest.raises(TypeError):
                cls(*args, **kwargs)
            continue
        mine = cls(*args, **kwargs)
        assert repr(mine) == repr(twin).replace("PointTwin(", "Point(")
        assert values.asdict(mine) == attrs.asdict(twin)
        assert mine.tags is not cls("b").tags  # a factory makes a new one per instance
        with pytest.raises(values.FrozenInstanceError):
            mine.size = 9  # type: ignore[misc]


def test_a_field_that_cannot_be_a_parameter_keeps_the_generic_init() -> None:
    @frozen
    class Odd:
        self: int = 0

    for _ in range(values.COMPILE_AFTER + 1):
        made = Odd(self=3)
    assert "<@frozen" not in Odd.__init__.__code__.co_filename
    assert made.self == 3


def test_defaults_are_shared_factories_are_not_and_takes_self_sees_the_instance() -> None:
    one, two = Point("a"), Point("b")
    assert one.tags == []
    assert one.tags is not two.tags
    assert (one.tag, two.tag) == ("tag-a", "tag-b")
    shared = IndexOptions()
    assert Plan.__init__ is not Step.__init__  # each class its own field list
    assert IndexOptions().extra_index_urls is shared.extra_index_urls  # the same () default


def test_values_are_frozen_and_slotted() -> None:
    point = Point("a")
    with pytest.raises(values.FrozenInstanceError):
        point.size = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):  # what callers of attrs' classes catch
        del point.name  # type: ignore[misc]
    with pytest.raises(AttributeError):
        point.colour = "red"  # type: ignore[attr-defined]
    assert not hasattr(point, "__dict__")
    assert Point.__slots__ == ("name", "size", "tags", "tag", "note", "__weakref__")  # type: ignore[attr-defined]


@given(
    st.text(max_size=5),
    st.integers(),
    st.lists(st.text(max_size=3), max_size=3),
    st.text(max_size=5),
    st.text(max_size=3),
    st.text(max_size=3),
)
def test_eq_hash_and_repr_answer_as_attrs_does(
    name: str, size: int, tags: list[str], other_name: str, note: str, other_note: str
) -> None:
    a, b = Point(name, size, tags, note=note), Point(other_name, size, tags, note=other_note)
    ta, tb = (
        PointTwin(name, size, tags, note=note),
        PointTwin(other_name, size, tags, note=other_note),
    )
    assert (a == b) is (ta == tb)
    assert (a != b) is (ta != tb)
    assert repr(a) == repr(ta).replace("PointTwin(", "Point(")
    assert a != ta  # another class is never equal
    frozen_a = Step(name, Action.NOOP, reasons=(note,))
    assert hash(frozen_a) == hash(Step(name, Action.NOOP, reasons=(note,)))


def test_evolve_fields_and_asdict_answer_as_attrs_does() -> None:
    point, twin = Point("a", 2, ["x"]), PointTwin("a", 2, ["x"])
    assert values.asdict(evolve(point, size=5)) == attrs.asdict(attrs.evolve(twin, size=5))
    assert (
        evolve(point, size=5).tag == attrs.evolve(twin, size=5).tag == "tag-a"
    )  # kept, not remade
    with pytest.raises(TypeError):
        evolve(point, colour="red")
    names = [(f.name, f.default, f.factory is not None, f.eq, f.repr) for f in values.fields(Point)]
    made_by_factory = [isinstance(f.default, attrs.Factory) for f in attrs.fields(PointTwin)]  # type: ignore[arg-type]
    twin_names = [
        (f.name, MISSING if f.default is attrs.NOTHING or made else f.default, made, f.eq, f.repr)
        for f, made in zip(attrs.fields(PointTwin), made_by_factory, strict=True)
    ]
    assert names == twin_names
    assert values.fields(Point)[0].type == "str"  # the annotation as written, as attrs keeps it
    with pytest.raises(values.NotAValueClassError):
        values.fields(PointTwin)


@frozen
class Tree:
    label: str
    children: tuple[Tree, ...] = ()
    extra: dict[str, Any] = field(factory=dict)
    where: Path | None = None


@attrs.frozen
class TreeTwin:
    label: str
    children: tuple[TreeTwin, ...] = ()
    extra: dict[str, Any] = attrs.Factory(dict)
    where: Path | None = None


_LEAF = st.one_of(st.none(), st.integers(), st.text(max_size=4), st.booleans())
_EXTRA = st.dictionaries(
    st.one_of(st.text(max_size=3), st.tuples(st.text(max_size=2), st.integers())),
    st.recursive(
        _LEAF, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner), max_leaves=6
    ),
    max_size=3,
)


def _trees() -> st.SearchStrategy[tuple[Tree, TreeTwin]]:
    def node(children: list[tuple[Tree, TreeTwin]]) -> st.SearchStrategy[tuple[Tree, TreeTwin]]:
        return st.builds(
            lambda label, extra, where: (
                Tree(label, tuple(c[0] for c in children), extra, where),
                TreeTwin(label, tuple(c[1] for c in children), extra, where),
            ),
            st.text(max_size=3),
            _EXTRA,
            st.one_of(st.none(), st.just(Path("/a/b"))),
        )

    return st.recursive(
        node([]), lambda inner: st.lists(inner, max_size=3).flatmap(node), max_leaves=8
    )


def _serializer(owner: object, spec: object, value: object) -> object:
    """plan.content's: Paths as text, strings marked."""
    if isinstance(value, Path):
        return str(value)
    return f"<{value}>" if isinstance(value, str) else value


@given(_trees())
def test_asdict_recurses_as_attrs_asdict_does(pair: tuple[Tree, TreeTwin]) -> None:
    mine, twin = pair
    assert values.asdict(mine) == attrs.asdict(twin)
    assert values.asdict(mine, value_serializer=_serializer) == attrs.asdict(
        twin, value_serializer=_serializer
    )


def test_copy_and_pickle_keep_a_frozen_value() -> None:
    point = Point("a", 2, ["x"], note="n")
    for made in (copy.copy(point), copy.deepcopy(point), pickle.loads(pickle.dumps(point))):  # noqa: S301 - our own bytes
        assert made == point
        assert made.note == "n"
        with pytest.raises(values.FrozenInstanceError):
            made.size = 3  # type: ignore[misc]


def test_a_subclass_adds_its_own_fields_after_its_bases() -> None:
    @frozen
    class Labelled(Point):
        label: str = "x"

    made = Labelled("a", label="y")
    assert [f.name for f in values.fields(Labelled)] == [
        "name",
        "size",
        "tags",
        "tag",
        "note",
        "label",
    ]
    assert made.tag == "tag-a"
    assert made.label == "y"
    assert made != Point("a")


def test_a_class_is_refused_when_attrs_would_refuse_it() -> None:
    with pytest.raises(TypeError):

        @frozen
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]  # no default after a default

    with pytest.raises(TypeError):
        field(default=1, factory=list)


def test_signature_lists_the_fields_for_introspection() -> None:
    import inspect  # noqa: PLC0415 - the unit under test

    signature = inspect.signature(Point)
    assert list(signature.parameters) == ["name", "size", "tags", "tag", "note"]
    assert signature.parameters["size"].default == 0
    assert signature.parameters["name"].annotation is str


def test_plan_content_is_what_attrs_asdict_gave() -> None:
    """The text a plan's fingerprint covers (plan.content) is byte for byte what it was with
    attrs' asdict (the golden text was printed by 157d37e, the last commit with attrs models),
    so a plan file saved before still applies."""
    step = Step(
        "tap",
        Action.CREATE,
        reasons=("new",),
        locked=(pkg("a", "1.0"),),
        index=IndexOptions("https://u:p@h/simple", find_links=("wheels",)),
        strategy=Strategy.NEW_GENERATION,
        extra_files=(("f", "x"),),
    )
    plan = Plan((step, Step("noop", Action.NOOP)), ("warn",), "sha256:f", project_dir=Path("/p"))
    assert content(plan) == _GOLDEN


_GOLDEN = (
    '{"fingerprint": "", "keep_generations": 0, "project_dir": "/p", "steps": [{"action": "cr'
    'eate", "blocked": null, "delete_files": [], "extra_files": [["f", "x"]], "index": {"extr'
    'a_index_urls": [], "find_links": ["wheels"], "index_url": "https://****@h/simple", "no_i'
    'ndex": false}, "install": [], "interpreter": null, "locked": [{"commit": null, "editable'
    '": false, "hashes": ["sha256:06f2d6946e366bbb26a0ed1dbc24c6ef30bc14f5f9cb4422d993b80ef12'
    '0e6f3"], "kind": "index", "location": null, "marker": null, "name": "a", "prebuilt": nul'
    'l, "ref": null, "requirement": "a==1.0", "url": null, "version": "1.0"}], "plugin": "tap'
    '", "reasons": ["new"], "sources": [], "strategy": "new-generation", "uninstall": []}], "'
    'targets": [], "verify": false, "warnings": ["warn"]}'
)


def test_mypy_reads_the_classes_as_frozen_dataclass_likes(tmp_path: Path) -> None:
    """``typing.dataclass_transform``: mypy checks the constructor's arguments, refuses
    assignment and checks defaults and factories, as it did for the attrs classes (a wrong
    call is an error, not Any), and ``evolve``'s keywords as ``dataclasses.replace``'s, where
    attrs' plugin checked them."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            from reconciler.models import IndexOptions
            IndexOptions(no_index="yes")
            IndexOptions(colour=1)
            options = IndexOptions()
            options.no_index = True
            reveal_type(options.find_links)
            from reconciler.support.values import evolve, field, frozen
            evolve(options, no_index="yes")
            evolve(options, colour=1)
            @frozen
            class Probe:
                n: int = field(default="s")
                m: str = field(factory=lambda: 1)
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent", str(probe)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert 'Argument "no_index" to "IndexOptions" has incompatible type "str"' in out, out
    assert 'Unexpected keyword argument "colour" for "IndexOptions"' in out, out
    assert 'Property "no_index" defined in "IndexOptions" is read-only' in out, out
    assert 'Revealed type is "tuple[str, ...]"' in out, out
    # a field's default and a factory's result are checked against the field's type
    assert '(expression has type "str", variable has type "int")' in out, out
    assert '(expression has type "int", variable has type "str")' in out, out
    assert 'Argument "no_index" to "replace" of "IndexOptions" has incompatible type "str"' in out
    assert 'Unexpected keyword argument "colour" for "replace" of "IndexOptions"' in out, out


@frozen
class Base:
    a: int
    b: str = "b"


@frozen
class Middle(Base):
    c: int = 0


@frozen
class Leaf(Middle):
    b: str = "leaf"  # redefined: the base's field leaves its place, as in attrs
    d: int = 1


@attrs.frozen
class BaseTwin:
    a: int
    b: str = "b"


@attrs.frozen
class MiddleTwin(BaseTwin):
    c: int = 0


@attrs.frozen
class LeafTwin(MiddleTwin):
    b: str = "leaf"
    d: int = 1


def test_inheritance_collects_fields_as_attrs_does() -> None:
    assert [f.name for f in values.fields(Leaf)] == [f.name for f in attrs.fields(LeafTwin)]
    assert values.asdict(Leaf(5)) == attrs.asdict(LeafTwin(5))
    assert repr(Leaf(5, c=2)) == repr(LeafTwin(5, c=2)).replace("LeafTwin(", "Leaf(")

    class Plain(Middle):  # a subclass without @frozen keeps its base's behaviour
        pass

    plain = Plain(1)
    assert values.fields(Plain) == values.fields(Middle)
    assert evolve(plain, c=3).c == 3
    assert plain == Plain(1)
    assert repr(plain) == "Plain(a=1, b='b', c=0)"


def test_class_bodies_get_what_attrs_gives_them() -> None:
    import weakref  # noqa: PLC0415 - this test's own

    @frozen
    class WithSuper(Base):
        def describe(self) -> str:
            return f"{super().__repr__()} {__class__.__name__}"  # type: ignore[name-defined]

    made = WithSuper(1)
    assert made.describe() == "WithSuper(a=1, b='b') WithSuper"
    assert weakref.ref(made)() is made

    @frozen
    class WithClassVar:
        shared: ClassVar[int] = 3
        x: int = 0

    assert [f.name for f in values.fields(WithClassVar)] == ["x"]
    with pytest.raises(TypeError, match="writes __init__ itself"):

        @frozen
        class OwnInit:
            x: int

            def __init__(self, x: int) -> None:
                object.__setattr__(self, "x", x * 2)


def test_asdict_of_odd_collections_is_attrs_asdict() -> None:
    pair = collections.namedtuple("pair", "left right")

    @frozen
    class Odd:
        ordered: Any
        defaulted: Any
        paired: Any

    @attrs.frozen
    class OddTwin:
        ordered: Any
        defaulted: Any
        paired: Any

    args = (collections.OrderedDict(a=1), collections.defaultdict(list, b=[2]), pair(1, (2,)))
    assert values.asdict(Odd(*args)) == attrs.asdict(OddTwin(*args))
    assert type(values.asdict(Odd(*args))["defaulted"]) is dict


def test_a_keyword_field_name_keeps_the_generic_init() -> None:
    made = values.frozen(type("K", (), {"__annotations__": {"class_": "int", "from": "int"}}))
    for _ in range(values.COMPILE_AFTER + 1):
        made(1, 2)
    assert "<@frozen" not in made.__init__.__code__.co_filename
