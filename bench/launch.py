"""Run a command and write its own resource usage to a JSON file: `python launch.py OUT cmd...`.

Why not wait4 on the command directly: Linux hands a process started by exec the memory
high-water mark of the process it replaced, so a command spawned straight from the benchmark
reports at least the benchmark's own size as its peak RSS. This launcher is small and forks
the command itself, so the peak it reports is the command's own (never below the launcher's
own ~8 MB). A command killed on timeout takes the launcher with it: no usage is reported.
"""

import json
import os
import signal
import sys

out, command = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(command[0], command)
    except OSError as error:
        print(f"launch: cannot run {command[0]}: {error}", file=sys.stderr, flush=True)
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as report:
    json.dump({"cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_kb": usage.ru_maxrss}, report)
if os.WIFSIGNALED(status):  # die of the same signal, so the caller sees what the command saw
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.waitstatus_to_exitcode(status))
