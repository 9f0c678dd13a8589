"""Mutation testing of the library modules that decide grades and teach the math.

    nice -n 10 .venv/bin/python tools/mutation.py              # all five modules
    nice -n 10 .venv/bin/python tools/mutation.py grading conv # some of them
    .venv/bin/python tools/mutation.py --report                # the table of the last run, no rerun

mutmut (3.x, requirements-dev.txt) changes the code one small edit at a time ("mutants") and runs
the unit tests that reach the changed function (pyproject.toml, [tool.mutmut]); a mutant that no
test notices "survived". Survivors that cannot change behaviour are listed, each with its reason,
in mutation-equivalents.toml beside pyproject.toml. The script prints, per module: mutants, killed,
survived, equivalent and the score killed / (mutants - equivalent), then every survivor that is
neither killed nor listed, and exits 1 if there is one or if a module scores below --min-score.
An entry is matched by its function and its two lines, not by mutmut's number, so it survives a
renumbering; one that matches no survivor is reported (killed now, or its line changed). A run
starts from a clean mutants/ folder, so --report shows only the modules of the last run.

It takes about 10 minutes on two (busy) cores, too slow for CI: run it before a release, or after
changing one of the modules or its tests. mutmut works in mutants/ (ignored by git).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("grading", "inspect", "gradcheck", "conv", "layers")
EQUIVALENTS = ROOT / "mutation-equivalents.toml"
# a failing test, pytest's internal error, a timeout, or a test process that crashed (SIGSEGV: a mutant
# that makes as_strided read outside the array can crash instead of raising)
KILLED = {1, 3, 24, -24, 36, 152, 255, -11}
SURVIVED = {0, 5, 33}                    # every test passed, or no test reached the function


def mutmut_command() -> list[str]:
    exe = Path(sys.executable).with_name("mutmut")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("mutmut")
    if not found:
        sys.exit("tools/mutation.py: mutmut is not installed; run: pip install -r requirements-dev.txt")
    return [found]


def run_mutmut(modules: list[str], jobs: int) -> None:
    """One mutmut run for the modules: it copies and mutates the sources and times the tests once,
    then tests at most `jobs` mutants at a time."""
    log = ROOT / "mutants" / "mutation.log"
    log.parent.mkdir(exist_ok=True)
    print(f"running mutmut on {', '.join(modules)} (log in {log.relative_to(ROOT)}) ...", flush=True)
    with log.open("w") as out:
        rc = subprocess.call(mutmut_command() + ["run", "--max-children", str(jobs)]
                             + [f"cnnkit.{module}.*" for module in modules],
                             cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        sys.exit(f"tools/mutation.py: mutmut failed (exit {rc}); see {log}")


def exit_codes(module: str) -> dict[str, int | None]:
    meta = ROOT / "mutants" / "cnnkit" / f"{module}.py.meta"
    if not meta.exists():
        sys.exit(f"tools/mutation.py: no results for cnnkit/{module}.py; run without --report first")
    return json.loads(meta.read_text())["exit_code_by_key"]


def mutant_diff(name: str) -> tuple[list[str], list[str]]:
    """The removed and added lines of a mutant (stripped), as `mutmut show NAME` prints them."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # reads pyproject.toml from the cwd

    module = name.split(".")[1]
    text = get_diff_for_mutant(name, path=Path("cnnkit") / f"{module}.py")
    lines = [ln for ln in text.splitlines() if not ln.startswith(("---", "+++"))]
    return ([ln[1:].strip() for ln in lines if ln.startswith("-")],
            [ln[1:].strip() for ln in lines if ln.startswith("+")])


def function_of(name: str) -> str:
    """cnnkit.conv.x_im2col__mutmut_7 -> cnnkit.conv.x_im2col (mutmut numbers mutants per function)."""
    return name.rsplit("__mutmut_", 1)[0]


def load_equivalents() -> dict[tuple[str, str, str], dict]:
    """Entries keyed by (function, original line, mutated line): a new numbering, after a change
    elsewhere in the function, does not lose them."""
    if not EQUIVALENTS.exists():
        return {}
    entries = tomllib.loads(EQUIVALENTS.read_text())["equivalent"]
    keyed = {}
    for e in entries:
        missing = {"mutant", "was", "now", "reason"} - set(e)
        if missing or not str(e["reason"]).strip():
            sys.exit(f"{EQUIVALENTS.name}: entry {e.get('mutant', e)!r} lacks {sorted(missing) or ['a reason']}")
        keyed[(function_of(e["mutant"]), e["was"], e["now"])] = e
    return keyed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=f"some of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--report", action="store_true", help="only print the table of the last run")
    parser.add_argument("--min-score", type=float, default=90.0, help="percent each module must reach")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; expected some of {', '.join(MODULES)}")

    os.chdir(ROOT)
    if not args.report:
        # a fresh start: mutmut keeps verdicts and test timings in mutants/, which would be stale
        # after a change to the code or the tests
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        run_mutmut(modules, args.jobs)

    equivalents = load_equivalents()
    used = set()
    rows, unexplained, bad = [], [], []
    for module in modules:
        codes = exit_codes(module)
        killed = sum(1 for c in codes.values() if c in KILLED)
        survivors = sorted(n for n, c in codes.items() if c not in KILLED)
        equivalent = 0
        for name in survivors:
            was, now = mutant_diff(name)
            key = (function_of(name), " / ".join(was), " / ".join(now))
            if key not in equivalents:
                unexplained.append(f"{name}: {key[1]!r} -> {key[2]!r}")
                continue
            used.add(key)
            equivalent += 1
        total = len(codes)
        score = 100.0 * killed / max(1, total - equivalent)
        if score < args.min_score:
            bad.append(module)
        rows.append((f"cnnkit/{module}.py", total, killed, len(survivors), equivalent, score))
        unknown = [n for n, c in codes.items() if c not in KILLED | SURVIVED]
        if unknown:
            print(f"cnnkit/{module}.py: {len(unknown)} mutants neither killed nor survived (counted as survivors): "
                  + ", ".join(f"{n} (exit {codes[n]})" for n in unknown))

    print("\n| module | mutants | killed | survived | equivalent | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for path, total, killed, survived, equivalent, score in rows:
        print(f"| `{path}` | {total} | {killed} | {survived} | {equivalent} | {score:.1f}% |")
    print("\nscore = killed / (mutants - equivalent); survived includes the equivalent ones")
    unused = [e["mutant"] for k, e in equivalents.items() if k not in used and k[0].split(".")[1] in modules]
    if unused:
        print(f"\n{len(unused)} entries of {EQUIVALENTS.name} match no survivor (killed now, or the line "
              "changed): " + ", ".join(unused))
    if unexplained:
        print(f"\n{len(unexplained)} survivor(s) neither killed nor listed in {EQUIVALENTS.name} "
              "(see each with `mutmut show NAME`):\n  " + "\n  ".join(unexplained))
    if bad:
        print(f"\nbelow {args.min_score:.0f}%: {', '.join(bad)}")
    return 1 if (unexplained or bad) else 0


if __name__ == "__main__":
    sys.exit(main())
