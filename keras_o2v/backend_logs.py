"""Keeps TensorFlow's C++ log lines off stderr while its libraries load.

`quiet_backend_logs()` is what `keras-o2v` runs before any command (unless
`--backend-logs`); a script can call it before its first Keras import.
"""

import contextlib
import os
import re
import subprocess
import sys


# A TensorFlow C++ log line below FATAL (absl's format: severity, date, time
# (seconds since the epoch before absl is initialised), thread, file:line),
# or absl's notice that precedes such lines.
BACKEND_LOG_LINE = re.compile(
    rb"[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\s:\]]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called "
    rb"are written to STDERR")


# Copies the lines of stdin that do not match argv[1] to stdout.
_LINE_FILTER = """
import re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent
pattern = re.compile(sys.argv[1].encode("latin-1"))
for line in sys.stdin.buffer:
    if not pattern.match(line):
        sys.stdout.buffer.write(line)
"""


@contextlib.contextmanager
def dropping_lines(pattern):
    """Drops the lines matching `pattern` that anything, C++ code included,
    writes to file descriptor 2 inside the block; other lines pass, in order.

    A small Python process does the filtering, so the last words of a
    process that dies inside the block still come out. Off POSIX, nothing
    is dropped.
    """
    if os.name != "posix" or not sys.executable:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        # -I -S: no environment, no site; -u: each line out at once.
        filtering = subprocess.Popen(
            [sys.executable, "-I", "-S", "-u", "-c", _LINE_FILTER,
             pattern.pattern.decode("latin-1")],
            stdin=subprocess.PIPE, stdout=saved, stderr=saved)
    except OSError:
        os.close(saved)
        yield
        return
    os.dup2(filtering.stdin.fileno(), 2)
    filtering.stdin.close()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the last write end: the filter ends
        os.close(saved)
        filtering.wait()  # its lines come before whatever follows


def quiet_backend_logs():
    """Keeps TensorFlow's C++ log lines off stderr.

    Sets TF_CPP_MIN_LOG_LEVEL=3 (FATAL only; errors reach Python as
    exceptions) and imports TensorFlow, dropping the log lines written while
    its libraries load: those come before TensorFlow reads the variable
    (oneDNN and CUDA notes, absl's InitializeLog notice). Does nothing if
    the user set a TF_CPP_* variable or TensorFlow is already imported.
    """
    if "tensorflow" in sys.modules or any(name.startswith("TF_CPP_")
                                          for name in os.environ):
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with dropping_lines(BACKEND_LOG_LINE):
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass  # the command says what is missing
