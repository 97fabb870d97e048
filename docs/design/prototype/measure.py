"""Run a command; report wall time and peak RSS of its whole process tree (sampled from /proc).

    python measure.py LABEL -- cmd args...      -> one JSON line on stdout (and appended to
                                                  $MEASURE_LOG if set)
ru_maxrss alone is the max of single processes; Spark is a Python driver plus a JVM, so the
tree's summed RSS is sampled every 0.1 s instead (both are reported).
"""
import json, os, resource, subprocess, sys, time


def tree_rss(root: int) -> int:
    kids, rss = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            ppid, pages = int(parts[1]), int(parts[21])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(pid))
        rss[int(pid)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(kids.get(p, []))
    return total


def main() -> None:
    label, cmd = sys.argv[1], sys.argv[sys.argv.index("--") + 1 :]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - start
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = {"label": label, "rc": proc.returncode, "wall_s": round(wall, 2),
           "peak_tree_rss_mb": round(peak / 2**20), "max_single_rss_mb": round(ru.ru_maxrss / 1024)}
    line = json.dumps(row)
    print(line, flush=True)
    if os.environ.get("MEASURE_LOG"):
        with open(os.environ["MEASURE_LOG"], "a") as f:
            f.write(line + "\n")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
