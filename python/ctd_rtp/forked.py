"""A function run in a forked child process, its result collected later: the machine's second
core for Python work that holds the GIL (a thread would not overlap it). The report validates
with Great Expectations this way while it draws its figures, and the statistics run the paired
tests while they compute the rest.

The child inherits the arguments as they are at the fork (copy-on-write): nothing is pickled
or read again but the result. An exception in the child is raised again in the parent, the
same type and message, with the child's traceback as a note. Where fork is not available
(not Linux) the function runs at once, in this process, and its result or its exception waits
for :meth:`result` all the same.
"""

from __future__ import annotations

import multiprocessing
import pickle
import traceback
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Forked(Generic[T]):
    """``function(*args)`` in a child process; :meth:`result` waits for it, :meth:`cancel` stops it."""

    def __init__(self, name: str, function: Callable[..., T], *args: Any) -> None:
        self.name = name
        self._done = False
        self._value: Any = None
        self._process: Any = None
        self._raised: BaseException | None = None
        if "fork" not in multiprocessing.get_all_start_methods():
            try:
                self._value = function(*args)
            except Exception as exc:  # noqa: BLE001 - raised by result(), where the fork raises it
                self._raised = exc
            self._done = True
            return
        fork = multiprocessing.get_context("fork")
        self._receive, send = fork.Pipe(duplex=False)
        self._process = fork.Process(target=_child, args=(send, function, args), name=name, daemon=True)
        self._process.start()
        send.close()

    def result(self) -> T:
        if self._raised is not None:
            raise self._raised
        if self._done:
            return self._value
        try:
            outcome = self._receive.recv()
        except EOFError:  # killed, or died before it could answer
            outcome = ("error", None, "the process ended without a result")
        finally:
            self._receive.close()
            self._process.join()
        kind, value, trace = outcome
        if kind == "ok":
            self._value, self._done = value, True
            return value
        where = f"{self.name} (child process {self._process.pid}, exit code {self._process.exitcode})"
        if kind == "raised":
            value.add_note(f"raised in {where}:\n{trace}")
            raise value
        raise RuntimeError(f"{where}: {trace}")

    def cancel(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join()


def _child(send: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        outcome: tuple[str, Any, str] = ("ok", function(*args), "")
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        trace = "".join(traceback.format_exception(exc)).strip()
        try:
            pickle.dumps(exc)
            outcome = ("raised", exc, trace)
        except Exception:  # noqa: BLE001 - an exception that does not pickle: its text only
            outcome = ("error", None, trace)
    send.send(outcome)
    send.close()
