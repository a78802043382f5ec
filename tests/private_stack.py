"""A local stack of its own for a test module: own folder, own free ports.

For tests that stop, freeze or take down services (the failure suite, `stack down`): the
shared stack (`.stack/`, the default ports) that other tests, the user or another session
are using stays untouched.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
from collections.abc import Iterator

from pipeline.config import PROJECT_ROOT
from pipeline.stack import free_port


@contextlib.contextmanager
def private_stack(name: str, start: bool = True) -> Iterator:
    """`pipeline.stack`, reloaded to follow FRAUD_STACK_DIR = out/<name>-<pid> and free
    ports (jobs and loaders started meanwhile inherit them), brought up if `start`. On exit
    the stack is taken down, the environment and `pipeline.stack` are restored, and a
    process left behind fails the caller."""
    from pipeline import stack

    names = ["FRAUD_STACK_DIR", *stack.PORT_ENV.values()]
    saved = {k: os.environ.get(k) for k in names}
    stack_dir = PROJECT_ROOT / "out" / f"{name}-{os.getpid()}"
    os.environ["FRAUD_STACK_DIR"] = str(stack_dir)
    for var in stack.PORT_ENV.values():
        os.environ[var] = str(free_port())
    importlib.reload(stack)
    try:
        if start:
            stack.up(verbose=False)
            stack.local_aws_env()
        yield stack
    finally:
        left = stack.down(verbose=False)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        importlib.reload(stack)
        if not left:
            shutil.rmtree(stack_dir, ignore_errors=True)
        assert not left, f"{name} stack processes left: {left}"
