"""Grading throughput: plain serial `nbgrader autograde` against `grade --workers N`, side by side.

Both grade the same N submissions of an assignment (a deterministic mix of complete, half-done and
blank notebooks built from the instructor's solution) in fresh course folders, one after the
other in the same run; the script prints both wall times, the ratio and whether every student got
the same autograded score from both.

    python benchmarks/grade_bench.py                 # 40 submissions of A1, 2 workers
    python benchmarks/grade_bench.py --n 6 --workers 2 --assignment A1
    python benchmarks/grade_bench.py --rounds 3      # each three times, taking turns; medians
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import api, course, sandbox, submissions  # installed with the course (pip install -e .)
from autograder.course import CourseDir

ROOT = Path(__file__).resolve().parents[1]


def make_submissions(assignment: str, released: Path, dest: Path, n: int) -> None:
    """n students: s00, s01, ... cycling through complete, half-done and blank notebooks."""
    for nb_path in sorted(released.glob("*.ipynb")):
        student_nb = submissions.read(nb_path)
        source_nb = submissions.read(course.Course().assignment(assignment).source / nb_path.name)
        parts = submissions.solution_parts(source_nb)
        kinds = [submissions.fill(student_nb, source_nb),
                 submissions.fill(student_nb, source_nb, set(parts[: len(parts) // 2])),
                 student_nb]
        for i in range(n):
            folder = dest / f"s{i:02d}" / assignment
            folder.mkdir(parents=True, exist_ok=True)
            submissions.nbformat.write(kinds[i % 3], folder / nb_path.name)


def scores(db: Path, assignment: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        for sub in gb.find_assignment(assignment).submissions:
            out[sub.student.id] = sum(g.score for nb in sub.notebooks for g in nb.grades if g.cell.cell_type == "code")
    return out


def plain_nbgrader(assignment: str, work: Path, n: int) -> tuple[float, dict]:
    """A course folder as nbgrader documents it, graded with its own command line, serially."""
    src = work / "source" / assignment
    src.mkdir(parents=True)
    for p in course.Course().assignment(assignment).source.glob("*.ipynb"):
        shutil.copy(p, src / p.name)
    shutil.copy(course.CONFIG_FILE, work / "nbgrader_config.py")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run(nbgrader + ["generate_assignment", assignment, "--force",
                               "--CourseDirectory.source_directory=source", "--CourseDirectory.release_directory=release"],
                   cwd=work, env=env, check=True, capture_output=True)
    make_submissions(assignment, work / "release" / assignment, work / "submitted", n)
    t0 = time.perf_counter()
    subprocess.run(nbgrader + ["autograde", assignment, "--CourseDirectory.source_directory=source"],
                   cwd=work, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0, scores(work / "gradebook.db", assignment)


def ours(assignment: str, work: Path, n: int, workers: int) -> tuple[float, dict]:
    term = CourseDir(work)
    released = api.release(assignment, term, release_dir=work / "release")
    make_submissions(assignment, released, term.submitted, n)
    t0 = time.perf_counter()
    api.grade(assignment, term, workers=workers, unsafe=sandbox.check() is not None)
    return time.perf_counter() - t0, scores(term.gradebook_file, assignment)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assignment", default="A1")
    ap.add_argument("--n", type=int, default=40, help="number of submissions (default 40)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1,
                    help="times each is run, taking turns; the medians are compared (default 1)")
    args = ap.parse_args()
    os.environ.setdefault("CNNKIT_DEVICE", "cpu")
    times_plain, times_ours, same = [], [], True
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        tmp = Path(tmp)
        print(f"{args.n} submissions of {args.assignment} on {os.cpu_count()} cores; "
              f"sandbox: {sandbox.check() or 'bubblewrap'}; load average {_load()}", flush=True)
        for r in range(args.rounds):
            t_plain, s_plain = plain_nbgrader(args.assignment, tmp / f"plain{r}", args.n)
            print(f"round {r + 1}: plain nbgrader autograde (serial): {t_plain:7.1f} s  "
                  f"({t_plain / args.n:.2f} s/submission)", flush=True)
            t_ours, s_ours = ours(args.assignment, tmp / f"ours{r}", args.n, args.workers)
            print(f"round {r + 1}: grade --workers {args.workers}:            {t_ours:7.1f} s  "
                  f"({t_ours / args.n:.2f} s/submission); load average {_load()}", flush=True)
            times_plain.append(t_plain)
            times_ours.append(t_ours)
            if s_plain != s_ours:
                same = False
                for s in sorted(set(s_plain) | set(s_ours)):
                    if s_plain.get(s) != s_ours.get(s):
                        print(f"  {s}: nbgrader {s_plain.get(s)}, ours {s_ours.get(s)}")
            print(f"identical grades for all {len(s_ours)} students: {s_plain == s_ours}", flush=True)
    m_plain, m_ours = statistics.median(times_plain), statistics.median(times_ours)
    print(f"median of {args.rounds}: plain {m_plain:.1f} s, grade --workers {args.workers} {m_ours:.1f} s")
    print(f"speed-up: {m_plain / m_ours:.2f}x")
    return 0 if same else 1


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
