"""Under CI=true a skipped test fails the run and its reason is printed (tests/conftest.py); outside CI skips pass."""

from __future__ import annotations

import pytest

from tests.conftest import CI_SKIPS_HEADING

pytest_plugins = ["pytester"]

SKIPPING = """
import pytest

def test_runs():
    assert True

@pytest.mark.skipif(True, reason="no chromium here")
def test_browser():
    pass

def test_database():
    pytest.skip("no postgresql here")

def test_model():
    pytest.importorskip("no_such_module_techan")
"""

XFAIL_ONLY = """
import pytest

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug():
    assert False

@pytest.mark.xfail(reason="not run", run=False)
def test_not_run():
    pass
"""


@pytest.fixture
def shop_tests(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest("from tests.conftest import pytest_configure  # the hook under test\n")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


@pytest.mark.parametrize("value", ["true", "1"])
def test_a_skip_fails_the_run_under_ci_and_says_why(shop_tests, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    shop_tests.makepyfile(test_skipping=SKIPPING)
    result = shop_tests.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        f"*{CI_SKIPS_HEADING}: 3 skipped*",
        "SKIPPED test_skipping.py::test_browser: no chromium here",
        "SKIPPED test_skipping.py::test_database: no postgresql here",
        "SKIPPED test_skipping.py::test_model: could not import 'no_such_module_techan'*",
    ])


def test_a_module_skipped_at_collection_fails_the_run_under_ci(shop_tests, monkeypatch):
    monkeypatch.setenv("CI", "true")
    shop_tests.makepyfile(test_whole_module='import pytest\n\npytest.importorskip("no_such_module_techan")\n\n'
                                            'def test_never_collected():\n    pass\n')
    result = shop_tests.runpytest("-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*{CI_SKIPS_HEADING}: 1 skipped*",
                                 "SKIPPED test_whole_module.py: could not import 'no_such_module_techan'*"])


@pytest.mark.parametrize("value", [None, "false"])
def test_skips_are_allowed_outside_ci(shop_tests, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    shop_tests.makepyfile(test_skipping=SKIPPING)
    result = shop_tests.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=3)
    assert result.ret == pytest.ExitCode.OK
    assert CI_SKIPS_HEADING not in result.stdout.str()


def test_xfail_is_not_a_skip_under_ci(shop_tests, monkeypatch):
    monkeypatch.setenv("CI", "true")
    shop_tests.makepyfile(test_xfail=XFAIL_ONLY)
    result = shop_tests.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(xfailed=2)
    assert result.ret == pytest.ExitCode.OK
    assert CI_SKIPS_HEADING not in result.stdout.str()


def test_a_failing_run_under_ci_keeps_its_failure(shop_tests, monkeypatch):
    monkeypatch.setenv("CI", "true")
    shop_tests.makepyfile(test_mixed="import pytest\n\ndef test_broken():\n    assert 1 == 2\n\n"
                                     "def test_skipped():\n    pytest.skip('no redis here')\n")
    result = shop_tests.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED test_mixed.py::test_skipped: no redis here"])
