"""One exception tree: every error the user can act on is a MonitorError."""

from __future__ import annotations

import pytest

from monitor.claims.judge import JudgeError, parse_answer
from monitor.claims.stance import ModelError, load_engine
from monitor.errors import (
    ConfigError,
    FeedParseError,
    MonitorError,
    RuleError,
    StoreError,
)
from monitor.rules import compile_rule


@pytest.mark.parametrize(
    "error", [ConfigError, FeedParseError, JudgeError, ModelError, RuleError, StoreError]
)
def test_every_error_is_a_monitor_error(error: type[Exception]) -> None:
    assert issubclass(error, MonitorError)


def test_rule_error_is_a_value_error_with_a_caret() -> None:
    with pytest.raises(ValueError) as info:
        compile_rule("(Putin OR Kremlin")
    e = info.value
    assert isinstance(e, RuleError) and isinstance(e, MonitorError)
    assert e.column == 1 and "never closed" in str(e)
    assert str(e).splitlines()[-1].strip() == "^"


def test_model_error_names_the_folder(tmp_path) -> None:
    with pytest.raises(MonitorError) as info:
        load_engine(model_dir=tmp_path)
    assert isinstance(info.value, ModelError) and isinstance(info.value, RuntimeError)
    assert str(tmp_path) in str(info.value)


def test_judge_error_from_an_unreadable_answer() -> None:
    with pytest.raises(MonitorError, match="no JSON object"):
        parse_answer("I think it agrees")
    assert issubclass(JudgeError, MonitorError)
