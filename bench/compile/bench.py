#!/usr/bin/env python3
"""The compile-speed table of ci/bench-compile, or with --linearity the cost per line of each
stage from 5k to 100k lines. Not a test: the figures depend on the machine and its load.

Table rows: truk debug (DWARF), -g0 and release at 10k and 50k lines, the same program shape
in C by clang-19 -O0 and by tcc (ratios against truk debug of the same size), and a rebuild
with nothing changed. Each build is a whole `build` to an executable, link included; wall
time is the median of REPS runs [min-max]; CPU is user+system of the build and everything it
ran; peak is the build process's maximum resident set; the stage split is each stage's median
over the runs. --linearity runs REPS rounds over all sizes and takes each stage's median CPU.
Usage: bench.py TRUK WORKDIR [--linearity] [REPS]"""
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
truk, work = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
linearity = "--linearity" in rest
rest = [a for a in rest if a != "--linearity"]
reps = int(rest[0]) if rest else 3


def generate(lines, c=False):
    path = os.path.join(work, f"p{lines}.{'c' if c else 'truk'}")
    if not os.path.exists(path):
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), str(lines)] + (["--c"] if c else []), stdout=f, check=True)
    with open(path) as f:
        return path, sum(1 for _ in f)


def run(cmd, env=None):
    """(wall s, cpu s, peak MB, stderr) of one command, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{err}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, ru.ru_maxrss / 1024, err


def timed(cmd, out, n=reps, keep=False):
    """Median run of `n` (the output removed first unless `keep`): its figures and the range."""
    runs = []
    for _ in range(n):
        if not keep and os.path.exists(out):
            os.remove(out)
        runs.append(run(cmd, dict(os.environ, TRUK_TIMINGS="1")))
    runs.sort(key=lambda r: r[0])
    med = runs[len(runs) // 2]
    return med, runs[0][0], runs[-1][0], stage_medians([stages(r[3]) for r in runs])


def stages(err, cpu=False):
    """Each stage's wall ms (with `cpu`, the process's CPU ms in it, where truk prints it)."""
    out = {}
    for line in err.splitlines():
        if line.startswith("time:"):
            words = line[5:].split()
            name, ms = words[0], float(words[words.index("ms") - 1])
            if cpu and "(cpu" in words:
                ms = float(words[words.index("(cpu") + 1])
            out[name] = out.get(name, 0) + ms
        elif line.startswith("codegen: "):
            out["parts"] = line[len("codegen: "):]
    return out


def stage_medians(runs):
    """Each stage's median over runs: one run's split is one sample, and a single slow moment
    of a loaded machine would show as one stage growing faster than the program."""
    names = {k for st in runs for k in st if k != "parts"}
    out = {k: statistics.median(st.get(k, 0) for st in runs) for k in names}
    out.update({"parts": st["parts"] for st in runs[:1] if "parts" in st})
    return out


def truk_cmd(src, out, flags):
    return [truk, "build", src, "-o", out] + flags


if linearity:
    print("CPU per line of each stage (debug build, µs/line, medians of rounds over all sizes; x: against 5k lines)")
    sizes = [5000, 10000, 25000, 50000, 100000]
    base = None
    # Rounds over all sizes, so that a slow moment of the machine hits every size alike, and
    # the process's CPU time of each stage (less swollen by waiting for a core than wall time).
    progs = {size: generate(size) for size in sizes}
    runs = {size: [] for size in sizes}
    out = os.path.join(work, "lin")
    for _ in range(reps):
        for size in sizes:
            if os.path.exists(out):
                os.remove(out)
            _, cpu, _, err = run(truk_cmd(progs[size][0], out, []), dict(os.environ, TRUK_TIMINGS="1"))
            runs[size].append(dict(stages(err, cpu=True), total=cpu * 1000))
    # llvm-ir is a stage of its own only in builds of one part.
    names = [k for k in ["parse", "check", "mir", "llvm-ir", "codegen", "link"] if any(k in r for rs in runs.values() for r in rs)]
    print(f"{'lines':>7} " + " ".join(f"{n:>14}" for n in names) + f" {'total':>14}")
    rows = []
    for size in sizes:
        n = progs[size][1]
        st = stage_medians(runs[size])
        per = {k: st.get(k, 0) * 1000 / n for k in names + ["total"]}
        base = base or per
        cells = [f"{per[k]:6.2f} ({per[k] / base[k]:4.2f}x)" if base[k] else f"{per[k]:6.2f}" for k in names + ["total"]]
        print(f"{n:>7} " + " ".join(f"{c:>14}" for c in cells))
        rows.append(per)
    # Linear: the cost per line stays flat, so largest/smallest stays near 1 (noise aside).
    spread = [max(r[k] for r in rows) / min(r[k] for r in rows) if min(r[k] for r in rows) else 0 for k in names + ["total"]]
    print(f"{'max/min':>7} " + " ".join(f"{x:>13.2f}x" for x in spread))
    # A fixed cost (the link's) only lowers the cost per line of larger programs; what grows
    # faster than the program shows as a rise: a larger size's cost per line over a smaller's.
    rise = [max([rows[j][k] / rows[i][k] for i in range(len(rows)) for j in range(i + 1, len(rows)) if rows[i][k]] or [0]) for k in names + ["total"]]
    print(f"{'rise':>7} " + " ".join(f"{x:>13.2f}x" for x in rise))
    sys.exit(0)

rows = []
split = {}
for size in [10000, 50000]:
    src, n = generate(size)
    csrc, cn = generate(size, c=True)
    out = os.path.join(work, f"out{size}")
    ref = None
    for name, flags in [("truk debug (-g)", []), ("truk -g0", ["-g0"]), ("truk release", ["--release"])]:
        (wall, cpu, peak, err), lo, hi, split[(name, n)] = timed(truk_cmd(src, out, flags), out)
        ref = ref or n / wall
        rows.append((name, n, wall, lo, hi, cpu, peak, n / wall / ref))
    for name, cmd in [("clang-19 -O0 (C)", ["clang-19", "-O0", csrc, "-o", out]), ("tcc (C)", ["tcc", csrc, "-o", out])]:
        (wall, cpu, peak, _), lo, hi, _ = timed(cmd, out)
        rows.append((name, cn, wall, lo, hi, cpu, peak, cn / wall / ref))
    if size == 10000:
        subprocess.run(truk_cmd(src, out, []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        (wall, cpu, peak, err), lo, hi, _ = timed(truk_cmd(src, out, []), out, n=max(reps, 5), keep=True)
        kept = "time: up-to-date" in err
        rows.append(("truk no-change rebuild" + ("" if kept else " (NOT kept)"), n, wall, lo, hi, cpu, peak, None))

print(f"{'build':<26} {'lines':>6} {'wall ms (median [min-max])':>28} {'lines/s':>9} {'cpu ms':>7} {'peak MB':>8} {'vs truk debug':>13}")
for name, n, wall, lo, hi, cpu, peak, ratio in rows:
    r = f"{ratio:.2f}x" if ratio is not None else ""
    print(f"{name:<26} {n:>6} {wall * 1e3:>10.0f} [{lo * 1e3:>6.0f}-{hi * 1e3:>6.0f}] {n / wall:>9.0f} {cpu * 1e3:>7.0f} {peak:>8.1f} {r:>13}")
print("goals at 10k lines: debug >= 100000 lines/s, -g0 >= 150000, release >= 30000; rebuild <= 20 ms; peak <= 100 MB at 50k")
print()
print("stage split (ms, each stage's median over the runs)")
names = sorted({k for st in split.values() for k in st if k != "parts"}, key=["parse", "check", "mir", "llvm-ir", "verify", "optimize", "codegen", "link"].index)
print(f"{'build':<26} {'lines':>6} " + " ".join(f"{k:>9}" for k in names))
for (name, n), st in split.items():
    print(f"{name:<26} {n:>6} " + " ".join(f"{st.get(k, 0):>9.1f}" for k in names))
# Split builds emit the IR inside the codegen stage, on a thread per core.
for (name, n), st in split.items():
    if "parts" in st:
        print(f"{name:<26} {n:>6} codegen in {st['parts']}")
