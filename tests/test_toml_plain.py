"""The plain reader of ``reconciler.toml`` (``reconciler.sources.toml_plain``): what it takes it
reads exactly as ``tomllib`` does, what ``tomllib`` refuses it never takes, and the files users
write take it (so that a no-op ``plan`` imports no ``tomllib``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from test_config import FULL

from reconciler.sources import toml_plain

_KEYS = ["a", "requirements", "x-y", "1", "_", '"q"', "a.b", "a b", "", "é", "a\tb"]
_VALUES = [
    '"x"', "'y'", '""', "''", '"x\\"y"', '"a#b"', '"a\\b"', "'a\\b'", '"tab\there"', '"é"',
    "true", "false", "truex", "True", "1", "01", "0", "-1", "+1", "1_0", "1.5", "1e3", "0x1",
    "123456789012345678", "1234567890123456789", "[]", '["x", "y",]', '["x" "y"]', "[, ]",
    '["x",\n "y" # c\n]', "[\n]", "[1]", '["x"', '[["x"]]', '"""x"""', "'''x'''", "{a = 1}",
    "{}", "1979-05-27", "07:32:00", "inf", "nan", '"x', "", '["a", # c\n  "b"\n  ,]', "['a',]",
    '[ "a" , ]', '["a",,]', '["a"\n\n]', '["a"]x', "[#\n]",
]  # fmt: skip
_HEADERS = [
    "[settings]", "[plugins.a]", "[plugins.a]  # c", '[plugins."b.c"]', "[plugins.'d']",
    "[plugins]", "[[plugins]]", "[ plugins.a ]", "[plugins . a]", "[plugins.a.x]", "[a.b",
    "[]", '[plugins.""]', "[plugins.a]x", "[plugins.a]]", "[plugins..a]", "[a]", '["a"]',
    "[a.b]", '[a."b"]', "[plugins.a.requirements]", "[plugins.'a']", "[plugins.\"a\\b\"]",
]  # fmt: skip
_OTHER = ["", "# c", "  ", "\t# x", "#\x7f", "a = 1\r", "\x0c", "  # é", "a = 1 # \x01", "\ufeff"]


def _toml_texts() -> st.SearchStrategy[str]:
    key_value = st.builds(
        lambda k, sep, v, tail: f"{k}{sep}{v}{tail}",
        st.sampled_from(_KEYS),
        st.sampled_from([" = ", "=", "\t=  ", " ", " == "]),
        st.sampled_from(_VALUES),
        st.sampled_from(["", " # c", "  ", " x", ",", "\t#", "]"]),
    )
    line = st.one_of(
        key_value,
        st.sampled_from(_HEADERS),
        st.sampled_from(_OTHER),
        key_value.map(lambda text: f"  {text}"),
    )
    return st.lists(line, max_size=12).map("\n".join)


_PLAIN_VALUES = [
    '"x"', "'y'", '""', '"a#b"', "'a\\b'", '"tab\there"', '"é"', "true", "false", "0", "1",
    "123456789012345678", "[]", '["x", "y",]', '[\n  "x", # c\n  \'y\'\n]', "['a']", '[ "a" , ]',
]  # fmt: skip


def _plain_texts() -> st.SearchStrategy[str]:
    """Mostly valid files in the subset, perhaps with one line of anything inserted."""
    table = st.tuples(
        st.sampled_from(["[settings]", "[plugins.a]", "[plugins.b-c]", '[plugins."d.e"]', "[x]"]),
        st.dictionaries(
            st.sampled_from(["a", "requirements", "no-index", "x_y", "1"]),
            st.sampled_from(_PLAIN_VALUES),
            max_size=4,
        ),
    )
    document = st.lists(table, max_size=4, unique_by=lambda t: t[0]).map(
        lambda tables: [
            line
            for header, values in tables
            for line in (header, *(f"{k} = {v}" for k, v in values.items()))
        ]
    )
    other = st.one_of(st.sampled_from(_HEADERS + _OTHER), st.sampled_from(_VALUES))
    return st.tuples(document, st.integers(0, 20), st.none() | other).map(
        lambda t: "\n".join(t[0] if t[2] is None else [*t[0][: t[1]], t[2], *t[0][t[1] :]])
    )


@hyp_settings(max_examples=500, deadline=None)
@given(_plain_texts())
def test_reads_plain_files_as_tomllib_does(text: str) -> None:
    _agrees_with_tomllib(text)


def _agrees_with_tomllib(text: str) -> bool:
    """Assert the plain reader's answer for ``text``; True when it read the file."""
    plain = toml_plain.loads(text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert plain is None, "the plain reader took a file tomllib refuses"
        return False
    assert plain is None or plain == expected
    return plain is not None


@hyp_settings(max_examples=500, deadline=None)
@given(_toml_texts())
def test_reads_as_tomllib_does_or_not_at_all(text: str) -> None:
    _agrees_with_tomllib(text)


@hyp_settings(max_examples=300, deadline=None)
@given(st.text(alphabet="[]\"'.=#, \n\tab1-_\\{}", max_size=40))
def test_never_takes_what_tomllib_refuses(text: str) -> None:
    _agrees_with_tomllib(text)


EXAMPLE = Path(__file__).parent.parent / "fixtures" / "example" / "reconciler.toml"


@pytest.mark.parametrize(
    "text",
    [
        FULL,
        EXAMPLE.read_text(encoding="utf-8"),
        '[plugins.a]\nrequirements = [\n  "x",  # why\n  "y",\n]\n\n[settings]\nno-index = false\n',
        "[plugins.a.b]\n[plugins.a]\nrequirements = ['x']\n",
        "# only a comment\n\n",
        "",
    ],
    ids=["full", "example", "multi-line-array", "super-table-after", "comment", "empty"],
)
def test_takes_usual_files(text: str) -> None:
    """The files users write take the plain reader (a no-op plan imports no tomllib)."""
    assert toml_plain.loads(text) == tomllib.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        "a = 1\na = 2\n",
        "[a]\n[a]\n",
        '[a]\nb = "x"\n[a.b]\n',
        "[a.b]\n[a]\nb = 1\n",
        'a = ["x",\n',
        'a = "x" "y"\n',
        "a = 1\r\n",
        'a = "\\u00e9"\n',
        "a = 1.5\n",
        "a = {b = 1}\n",
        "a.b = 1\n",
        "[[a]]\n",
    ],
    ids=["duplicate-key", "table-twice", "value-then-table", "table-then-value", "open-array",
         "two-values", "crlf", "escape", "float", "inline-table", "dotted-key", "array-of-tables"],
)  # fmt: skip
def test_leaves_the_rest_to_tomllib(text: str) -> None:
    assert toml_plain.loads(text) is None
