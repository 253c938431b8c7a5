"""The build backend's own exception line is found in a failed pip/uv/pip-compile output."""

from __future__ import annotations

from reconciler.support.tool_errors import backend_exception, explain_pip, with_backend_error

BACKEND = """\
  error: subprocess-exited-with-error
  Getting requirements to build wheel did not run successfully.
  Traceback (most recent call last):
    File "/tmp/build/setup.py", line 3, in <module>
      raise AttributeError("'build_ext' object has no attribute 'cython_sources'")
  AttributeError: 'build_ext' object has no attribute 'cython_sources'
"""

PIP_COMPILE_CRASH = """\
Traceback (most recent call last):
  File "/venv/bin/pip-compile", line 8, in <module>
    sys.exit(cli())
pip._internal.exceptions.FailedToPrepareCandidate: Failed to build 'file:///p' when installing
"""


def test_backend_exception_is_the_backend_line() -> None:
    assert backend_exception(BACKEND) == (
        "AttributeError: 'build_ext' object has no attribute 'cython_sources'"
    )


def test_pip_tools_own_traceback_is_passed_over() -> None:
    """pip-compile crashing on pip's exception after the build: the backend's line wins."""
    assert backend_exception(BACKEND + PIP_COMPILE_CRASH) == backend_exception(BACKEND)
    assert backend_exception(PIP_COMPILE_CRASH) is None
    assert with_backend_error("Failed to build p", PIP_COMPILE_CRASH) == "Failed to build p"


#: pip-compile (pip 26) when a git candidate's Requires-Python excludes the interpreter (seen on
#: meltano/meltano-dbt-lab-template's tap-rickandmorty): the traceback's source line
#: ``raise ResolutionImpossible(self.state.backtrack_causes)`` is not the cause.
REQUIRES_PYTHON = """\
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/pip/_vendor/resolvelib/resolvers/resolution.py", line 601
    raise ResolutionImpossible(self.state.backtrack_causes)
pip._vendor.resolvelib.resolvers.exceptions.ResolutionImpossible: [RequirementInformation(\
requirement=RequiresPythonRequirement('<3.10,>=3.6.2'), parent=LinkCandidate('git+https://\
github.com/aaronsteers/tap-rickandmorty.git@88f4c5661e45#egg=tap-rickandmorty'))]
"""


def test_a_requires_python_dead_end_names_the_package_and_its_range() -> None:
    assert explain_pip(REQUIRES_PYTHON) == (
        "git+https://github.com/aaronsteers/tap-rickandmorty.git@88f4c5661e45 requires Python "
        "<3.10,>=3.6.2 (not the plugin's interpreter)"
    )
