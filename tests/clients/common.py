"""What the Python client checks share: where pai is, and `case`, which runs
one check at once and prints `ok   CLIENT: WHAT` or `FAIL CLIENT: WHAT: DETAIL`
(the HTTP status and error message when a request was refused). A check fails
through `expect` or any exception; the others still run. `finish()` exits 1 if
any failed.

The model is tiny (SmolLM2-135M): checks look at shapes and protocol (status,
objects, finish_reason, tool names, usage), never at what an answer says."""

import asyncio
import inspect
import os
import sys
import time

URL = os.environ["PAI_URL"]
KEY = os.environ["PAI_KEY"]
V1 = f"{URL}/v1"
FINISH = {"stop", "length"}
FINISH_TOOLS = {"stop", "length", "tool_calls"}
_failed = []


class Fail(Exception):
    pass


def expect(ok, detail=""):
    if not ok:
        raise Fail(detail if isinstance(detail, str) else repr(detail))


def describe(e):
    """The exception as one line: its type, the HTTP status if it has one, its message."""
    status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
    text = " ".join(str(e).split())
    return f"{type(e).__name__}" + (f" HTTP {status}" if status else "") + f": {text}"


def report(client, what, error=None):
    if error is None:
        print(f"ok   {client}: {what}", flush=True)
    else:
        error = " ".join(str(error).split())
        if len(error) > 400:
            error = error[:400] + " …"
        print(f"FAIL {client}: {what}: {error}", flush=True)
        _failed.append(f"{client}: {what}")


def case(client, what):
    """Decorator that runs the check now (a coroutine function in its own loop)."""

    def run(fn):
        start = time.monotonic()
        try:
            result = fn()
            if inspect.iscoroutine(result):
                asyncio.run(result)
        except Fail as e:
            report(client, what, str(e) or "failed")
        except Exception as e:  # noqa: BLE001 - every error is a failed check
            report(client, what, describe(e))
        else:
            report(client, what)
        if os.environ.get("CLIENTS_TIMES"):
            print(f"     ({time.monotonic() - start:.1f} s)", file=sys.stderr, flush=True)
        return fn

    return run


def finish():
    sys.exit(1 if _failed else 0)
