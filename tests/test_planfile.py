"""The saved plan (``plan -o`` / ``plan --json``): the whole Plan as versioned JSON and back.

Schema: docs/plan-format.md. The end-to-end refusals of edited plan files are in
test_safety.py (``plan-file-edited-*``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from builders import (
    PY,
    desired,
    dist,
    lock_for,
    observation,
    pkg,
    plan_of,
    plugin,
    step,
    venv,
)
from hypothesis import assume, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from test_plan import worlds

from reconciler import planfile
from reconciler.errors import PlanFileError
from reconciler.models import (
    Action,
    DesiredState,
    IndexOptions,
    Install,
    Interpreter,
    Lock,
    Observation,
    Plan,
    Strategy,
    Uninstall,
)
from reconciler.plan import content, make_plan
from reconciler.render import to_json
from reconciler.support.values import evolve

DOC = Path(__file__).resolve().parent.parent / "docs" / "plan-format.md"
SECRET = "s3cr3t-t0ken"  # noqa: S105 - a made-up credential that must never be written
FILE = Path("saved-plan.json")

#: Every plan field, nested object by nested object: what docs/plan-format.md documents.
KEYS = {
    "document": ["format_version", "changes", "summary", "fingerprint", "contract"],
    "contract": [
        "version",
        "steps",
        "warnings",
        "keep_generations",
        "project_dir",
        "targets",
        "verify",
    ],
    "step": [
        "plugin",
        "action",
        "reasons",
        "install",
        "uninstall",
        "interpreter",
        "locked",
        "index",
        "strategy",
        "extra_files",
        "sources",
        "blocked",
        "delete_files",
    ],
    "install": ["package", "from_version", "reason", "repair"],
    "package": [
        "name",
        "version",
        "requirement",
        "hashes",
        "marker",
        "kind",
        "url",
        "editable",
        "commit",
        "ref",
        "location",
        "prebuilt",
    ],
    "uninstall": ["name", "version"],
    "interpreter": ["executable", "version", "markers"],
    "index": ["index_url", "extra_index_urls", "find_links", "no_index"],
}


def _full_plan(index: IndexOptions | None = None) -> Plan:
    """A plan using every field of the contract."""
    requests = pkg("requests", "2.32.3")
    upgrade = evolve(
        step(
            "tap-csv",
            Action.UPGRADE,
            "requests 2.31.0 -> 2.32.3",
            install=(Install(requests, from_version="2.31.0"),),
            uninstall=(Uninstall("chardet", "5.2.0"),),
        ),
        interpreter=PY,
        locked=(requests,),
        index=index or IndexOptions(find_links=("wheels",), no_index=True),
        strategy=Strategy.IN_PLACE,
        extra_files=(("meltano_venv_fingerprint", "abc"),),
        sources=(("demo-local", "sha256:" + "cd" * 32),),
        delete_files=("requests/stray.py",),
    )
    blocked = evolve(step("tap-new", Action.NOOP), interpreter=PY, blocked="no lock")
    refused = evolve(step("tap-odd", Action.BLOCKED, "a foreign directory"), interpreter=PY)
    return evolve(
        plan_of(upgrade, blocked, refused),
        keep_generations=1,
        project_dir=Path("/srv/project"),
        targets=("tap-csv", "tap-new", "tap-odd"),
        verify=True,
        warnings=("scratch: unmanaged directory left alone (no state marker)",),
    )


def test_plan_document_has_the_documented_keys() -> None:
    """The key set at every level is fixed (and ordered); each key is in docs/plan-format.md."""
    document = json.loads(to_json(_full_plan()))
    contract = document["contract"]
    upgrade = contract["steps"][0]
    found = {
        "document": list(document),
        "contract": list(contract),
        "step": list(upgrade),
        "install": list(upgrade["install"][0]),
        "package": list(upgrade["install"][0]["package"]),
        "uninstall": list(upgrade["uninstall"][0]),
        "interpreter": list(upgrade["interpreter"]),
        "index": list(upgrade["index"]),
    }
    assert found == KEYS
    documented = set(re.findall(r"`([a-z_]+)`", DOC.read_text(encoding="utf-8")))
    missing = sorted({key for keys in KEYS.values() for key in keys} - documented)
    assert not missing, f"docs/plan-format.md does not describe {missing}"
    assert contract["version"] == planfile.CONTRACT_VERSION == 1
    assert upgrade["strategy"] == "in-place"
    assert upgrade["extra_files"] == [["meltano_venv_fingerprint", "abc"]]


def test_plan_file_round_trips_a_full_plan() -> None:
    plan = _full_plan()
    assert planfile.read_plan(to_json(plan), FILE) == plan


@hyp_settings(max_examples=40, deadline=None)
@given(st.builds(Plan, project_dir=st.builds(Path, st.text())))
def test_any_plan_round_trips_through_its_file(plan: Plan) -> None:
    """Plan -> plan file -> Plan gives the same plan (a credential-free one: see below)."""
    assume("://" not in repr(plan))
    assert planfile.read_plan(to_json(plan), FILE) == plan


@hyp_settings(max_examples=40, deadline=None)
@given(worlds())
def test_planned_worlds_round_trip_through_their_file(
    world: tuple[DesiredState, dict[str, Lock | None], dict[str, Interpreter], Observation],
) -> None:
    """What the real planner produces (steps, locks, interpreters) survives the file."""
    plan = make_plan(*world)
    assert planfile.read_plan(to_json(plan), FILE) == plan


def test_plan_file_holds_no_credential_and_apply_takes_it_back() -> None:
    """A URL's userinfo is never written; ``with_credentials`` restores it from the plan
    computed again (and only where the file shows it redacted)."""
    index = IndexOptions(index_url=f"https://user:{SECRET}@host/simple", extra_index_urls=("x",))
    plan = _full_plan(index)
    text = to_json(plan)
    assert SECRET not in text
    saved = planfile.read_plan(text, FILE)
    assert saved.steps[0].index == evolve(index, index_url="https://****@host/simple")
    assert planfile.with_credentials(saved, plan) == plan
    other = evolve(plan, steps=(evolve(plan.steps[0], index=IndexOptions("https://evil/simple")),))
    assert planfile.with_credentials(saved, other).steps[0].index == saved.steps[0].index


def _edited(edit: Any) -> str:
    data = json.loads(to_json(_full_plan()))
    edit(data)
    return json.dumps(data)


def _set(path: str, value: object) -> Any:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "key", "cause"),
    [
        pytest.param(_set("contract.steps.0.action", "explode"), "contract.steps[0].action",
                     "invalid value", id="unknown-action"),
        pytest.param(_set("contract.steps.0.bogus", 1), "contract.steps[0]", "extra fields",
                     id="unknown-key"),
        pytest.param(_set("contract.verify", 1), "contract.verify", "expected bool",
                     id="int-for-bool"),
        pytest.param(_set("contract.steps.0.install.0.package.hashes", "sha256:00"),
                     "contract.steps[0].install[0].package.hashes", "invalid value",
                     id="string-for-list"),
        pytest.param(_set("contract.steps.0.extra_files.0", ["a", "b", "c"]),
                     "contract.steps[0].extra_files[0]", "invalid value", id="three-for-a-pair"),
        pytest.param(_set("contract.keep_generations", "1"), "contract.keep_generations",
                     "expected int", id="string-for-int"),
        pytest.param(_set("contract.version", 2), "contract.version", "unsupported",
                     id="future-contract"),
    ],
)  # fmt: skip
def test_bad_contract_is_refused_naming_the_key(edit: Any, key: str, cause: str) -> None:
    with pytest.raises(PlanFileError) as caught:
        planfile.read_plan(_edited(edit), FILE)
    error = caught.value
    assert (error.file, error.key) == (str(FILE), key)
    assert cause in str(error)
    assert str(error).startswith(f"{FILE}: {key}: ")


def test_plan_file_without_contract_is_refused() -> None:
    """A plan file of an older reconciler (summary only) is not applied from its summary."""
    data = json.loads(to_json(plan_of(step("tap", Action.REMOVE))))
    del data["contract"]
    with pytest.raises(PlanFileError, match="no contract"):
        planfile.read_plan(json.dumps(data), FILE)


def test_fingerprint_covers_what_the_steps_say() -> None:
    """Same locks and venvs, another strategy (``keep-generations``): another fingerprint, so
    a plan saved before the settings changed is stale."""
    tap = plugin("tap")
    lock = {"tap": lock_for(tap, pkg("requests", "2.32.3"))}
    seen = observation(venv("tap", dist("requests", "2.32.3"), dist("chardet", "5.2.0")))
    base = desired(tap)
    plans = [
        make_plan(want, lock, {"tap": PY}, seen)
        for want in (
            base,
            evolve(base, settings=evolve(base.settings, keep_generations=1)),
        )
    ]
    assert [p.steps[0].action for p in plans] == [Action.UPGRADE] * 2
    assert plans[0].steps[0].strategy is Strategy.IN_PLACE
    assert plans[1].steps[0].strategy is Strategy.NEW_GENERATION
    assert plans[0].fingerprint != plans[1].fingerprint


def test_fingerprint_content_holds_no_credential_and_skips_noop_steps() -> None:
    """What the fingerprint digests: credentials redacted (a rotated token does not stale a
    saved plan, and no digest of a secret is printed), no-op steps left out (they carry nothing
    apply acts on)."""

    def with_token(token: str) -> Plan:
        index = IndexOptions(index_url=f"https://user:{token}@host/simple")
        return _full_plan(index)

    assert SECRET not in content(with_token(SECRET))
    assert content(with_token(SECRET)) == content(with_token("another-token"))
    noop = plan_of(step("tap-ok", Action.NOOP))
    assert '"steps": []' in content(noop)
