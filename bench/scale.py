"""The scaling table of `bench/run --scale`: synthetic apps of N tables (bench/synthetic.py,
N/100 tables changed, 5 changes each) diffed cold and warm, with the peak memory of every
process of the run, the embedded PostgreSQL's included, and whether the answer was exact.

Peak memory is the largest sum, sampled every 50 ms, of the proportional set size (PSS:
shared pages divided among the processes sharing them, so the sum is what the run really
occupies) of: the CLI and its descendants, the PostgreSQL server (postmaster and backends)
and any process whose environment or command line names this benchmark's cache directory,
with its descendants (the kept fork server and the loaders it forks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import synthetic  # noqa: E402


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _ours(cache: str, root: int) -> set[int]:
    """Pids of the run: `root`'s tree, the PostgreSQL of `cache` and its children, and
    every process whose environment names `cache`."""
    pids: set[int] = set()
    try:
        pids |= {root, *(p.pid for p in psutil.Process(root).children(recursive=True))}
    except psutil.NoSuchProcess:
        pass
    for pidfile in Path(cache).glob("pg*/postmaster.pid"):
        try:
            postmaster = psutil.Process(int(pidfile.read_text().split()[0]))
            pids |= {postmaster.pid, *(p.pid for p in postmaster.children(recursive=True))}
        except (OSError, ValueError, psutil.NoSuchProcess):
            pass
    marker, mention = f"MODELDIFF_CACHE_DIR={cache}".encode(), cache.encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) not in pids:
            try:  # the kept fork server names its socket (in the cache) on its command line
                if mention in (proc / "cmdline").read_bytes() or marker in (proc / "environ").read_bytes().split(b"\0"):
                    found = psutil.Process(int(proc.name))
                    pids |= {found.pid, *(p.pid for p in found.children(recursive=True))}
            except (OSError, psutil.Error):
                pass
    return pids


def _cpu(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except psutil.Error:
        return None


def measured(args: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess, float]:
    """Run the CLI: seconds, peak MB of all the run's processes (see above), the result,
    and the CPU seconds those processes used during the run (sampled: a process that
    lives less than 50 ms may be missed; on a busy machine a steadier measure than time)."""
    cache = env["MODELDIFF_CACHE_DIR"]
    started_at = time.time()
    before = _children_cpu()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "modeldiff.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    cpu: dict[int, list[float]] = {}  # pid -> [CPU seconds before the run, last seen]
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            pids = _ours(cache, proc.pid)
            peak = max(peak, sum(_pss(pid) for pid in pids))
            for pid in pids:
                used = _cpu(pid)
                if used is not None:
                    if pid not in cpu:
                        born = psutil.Process(pid).create_time() if psutil.pid_exists(pid) else started_at
                        cpu[pid] = [used if born < started_at else 0.0, used]
                    cpu[pid][1] = used
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    cli = _children_cpu() - before  # the CLI itself, waited for: exact
    cpu_seconds = cli + sum(last - first for pid, (first, last) in cpu.items() if pid != proc.pid)
    return seconds, peak / 2**20, subprocess.CompletedProcess(proc.args, proc.returncode, out, err), cpu_seconds



def _children_cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.children_user + times.children_system


def clear(env: dict) -> None:
    subprocess.run([sys.executable, "-m", "modeldiff.cli", "cache", "clear"], env=env, capture_output=True, check=True)


def check(stdout: str, tables: int, changed: int) -> str:
    """'exact', or what is wrong with the answer."""
    result = json.loads(stdout)
    found = sorted((c["kind"], c["table"], c.get("column") or c.get("name")) for c in result["changes"])
    expected = synthetic.expected_changes(tables, changed)
    problems = []
    if found != expected:
        problems.append(f"{len(set(found) - set(expected))} wrong, {len(set(expected) - set(found))} missed changes")
    if result["warnings"]:
        problems.append(f"{len(result['warnings'])} warnings")
    if result.get("partial") or result.get("not_compared"):
        problems.append(f"partial, {len(result.get('not_compared', []))} not compared")
    return "; ".join(problems) or f"exact ({len(found)} changes)"


def scaling_table(sizes: list[int], scratch: Path, env: dict, reference: tuple[str, float] | None) -> list[str]:
    """One line per size: cold, warm, peak memory, cold time relative to the smallest size
    (and to the reference pair's cold time, when given)."""
    header = f"{'tables':>7} {'changed':>7} {'cold s':>8} {'cold cpu s':>10} {'warm s':>7} {'peak MB':>8} {'cold/' + str(sizes[0]):>9}"
    if reference:
        header += f" {'cold/' + reference[0]:>12}"
    lines = [header + "  answer"]
    first = None
    for tables in sizes:
        changed = max(1, tables // 100)
        repo = synthetic.build(scratch, tables, changed)
        args = ["diff", str(repo), "v1", "v2", "--format", "json", "--timeout", "3600"]  # big imports on a busy machine
        clear(env)
        cold, peak, proc, cpu = measured(args, env)
        if proc.returncode not in (0, 1):
            lines.append(f"{tables:>7} {changed:>7}  failed: {proc.stderr.strip()[-300:]}")
            continue
        warm, _, warm_proc, _ = measured(args, env)
        answer = check(proc.stdout, tables, changed) + ("" if warm_proc.stdout == proc.stdout else "; WARM OUTPUT DIFFERS")
        first = first or cold
        line = f"{tables:>7} {changed:>7} {cold:8.2f} {cpu:10.2f} {warm:7.2f} {peak:8.0f} {cold / first:8.2f}x"
        if reference:
            line += f" {cold / reference[1]:11.2f}x"
        lines.append(f"{line}  {answer}")
        print(lines[-1], file=sys.stderr, flush=True)  # progress: big sizes take minutes
    return lines
