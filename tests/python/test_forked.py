"""ctd_rtp.forked: a function in a forked child process, its result or its exception."""

from __future__ import annotations

import os
import signal

import pytest

from ctd_rtp.forked import Forked


def _pid_and_sum(values: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(values)


def _fail(message: str) -> None:
    raise ValueError(message)


def _unpicklable() -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    raise Local("local exception")


def _killed() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_result_comes_from_another_process() -> None:
    pid, total = Forked("sum", _pid_and_sum, [1, 2, 3]).result()
    assert total == 6 and pid != os.getpid()


def test_an_exception_is_raised_again_with_the_child_traceback() -> None:
    with pytest.raises(ValueError) as info:
        Forked("fail", _fail, "no pairs").result()
    assert str(info.value) == "no pairs"
    assert "raised in fail (child process" in info.value.__notes__[0] and "_fail" in info.value.__notes__[0]


def test_an_unpicklable_exception_and_a_killed_child_are_errors_not_results() -> None:
    with pytest.raises(RuntimeError, match=r"(?s)unpicklable \(child process \d+, exit code 0\): Traceback.*local"):
        Forked("unpicklable", _unpicklable).result()
    with pytest.raises(RuntimeError, match=r"killed \(child process \d+, exit code -9\): the process ended"):
        Forked("killed", _killed).result()


def test_cancel_stops_the_child() -> None:
    job = Forked("sleep", __import__("time").sleep, 60)
    job.cancel()
    assert not job._process.is_alive()


def test_without_fork_the_function_runs_here_and_result_gives_its_value_or_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # not Linux: no "fork" start method
    monkeypatch.setattr("multiprocessing.get_all_start_methods", lambda: ["spawn"])
    job = Forked("sum", _pid_and_sum, [1, 2, 3])
    assert job._process is None
    assert job.result() == (os.getpid(), 6)
    failing = Forked("fail", _fail, "no pairs")  # raises nothing yet, as a child would not
    with pytest.raises(ValueError, match="^no pairs$"):
        failing.result()
    failing.cancel()  # nothing to stop
