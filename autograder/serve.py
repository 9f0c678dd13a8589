"""Feedback minutes after Submit: the grading service of one assignment on a JupyterHub.

    python -m autograder serve A1 [--exchange DIR] [--workers N]

watches the exchange's inbound folder and grades each submission as it arrives, in the order the
exchange received them, at most N at a time (and one per student at a time: a student's attempts
are graded in their order). Each submission is filed and graded exactly as `exchange collect` and
`grade` would (autograder.exchange.collect, autograder.batch.grade_batch: the same sandbox,
checker, limits, late-day rule), so its grade is the one `grade` gives the same notebook. Its
feedback goes back through nbgrader's own feedback exchange (exchange.release_pages), where the
student's *Fetch Feedback* finds it.

The assignment's rules (course.toml [assignments.<A>.submission], autograder.attempts) decide how
many attempts are graded, which attempt is the student's grade, and what the page shows before the
student's deadline: the visible tests only, or also the points. After the deadline the service
releases the full page of every graded attempt (once), in place of the earlier one.

The ledger, COURSE_DIR/service/<A>/, holds one record per submission folder (<key>.json, written
atomically) and, per graded attempt, a copy of what was graded and its pages (<key>/). A record is
written `grading` before the grading starts and `graded` (or `refused`) after its result is saved,
so a service killed while grading, and started again, grades that submission again (nothing of
the first try was recorded) and never one already graded; submissions that arrived while it was
down are graded when it comes back. A submission the grader failed on (batch.NOT_GRADED) is
recorded `not graded`, is not an attempt, and is graded again when the service starts again.

The gradebook, submitted/ and autograded/ hold the attempt that counts (the last, or the best), so
`export`, `feedback` and Formgrader see the student's grade. Only the service writes there for
this assignment while it runs: do not run `grade` or `exchange collect` of it at the same time.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import attempts as rules_of
from . import batch, exchange
from . import feedback as fb
from .course import STATUS_FILE, Assignment, CourseDir, CourseError

GRADING, GRADED, REFUSED, NOT_GRADED = "grading", "graded", "refused", batch.NOT_GRADED
FINAL = (GRADED, REFUSED)


@dataclass
class Record:
    """The ledger's record of one submission folder of the exchange."""

    entry: str                   # the inbound folder's name
    student: str
    when: str                    # ISO time it counts as submitted (exchange.Inbound.when)
    status: str                  # GRADING, GRADED, REFUSED or NOT_GRADED
    number: int | None = None    # its attempt number (GRADING, GRADED)
    reason: str = ""             # the grader's reason, or why it was refused
    score: float | None = None   # after any late penalty
    max_score: float | None = None
    penalty: float = 0.0
    counts: bool = False         # this attempt is the student's grade now
    released: str = ""           # the page the student has: "", "visible", "score", "full", "refusal"
    cells: dict = dataclasses.field(default_factory=dict)  # {notebook: {grade id: [auto, manual, needs manual]}}
    secret: str = ""             # its submission_secret.txt, read once when it was admitted

    @property
    def at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.when)


def key(entry: str) -> str:
    """The ledger's file name for an inbound folder name (which may hold spaces and '+')."""
    return hashlib.sha256(entry.encode()).hexdigest()[:24]


class Ledger:
    """COURSE_DIR/service/<A>/: the records and the graded attempts' copies (module docstring)."""

    def __init__(self, course: CourseDir, assignment: str):
        self.root = course.root / "service" / assignment
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, entry: str) -> Path:
        return self.root / key(entry)

    def get(self, entry: str) -> Record | None:
        try:
            return Record(**json.loads((self.root / f"{key(entry)}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def put(self, rec: Record) -> None:
        path = self.root / f"{key(rec.entry)}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(rec), indent=1))
        tmp.replace(path)

    def records(self, student: str | None = None) -> list[Record]:
        found = []
        for path in sorted(self.root.glob("*.json")):
            try:
                rec = Record(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if student is None or rec.student == student:
                found.append(rec)
        return sorted(found, key=lambda r: (r.at, r.entry))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def deadline(a: Assignment, course: CourseDir, student: str) -> dt.datetime | None:
    """The student's deadline: the start of the UTC day after the due date, or after their extension
    (autograder.late); None where the assignment has no due date."""
    from . import late

    return late.deadline(a, course, student)


class Service:
    """The grading service of one assignment (module docstring). run() until stopped; step() once."""

    def __init__(self, a: Assignment, course: CourseDir, root: str, workers: int = 1, check_owner: bool = True,
                 add_unknown: bool = False, unsafe: bool = False, log=None, now=_utcnow):
        self.a, self.course, self.root = a, course, root
        self.workers = max(1, int(workers))
        self.check_owner, self.add_unknown, self.unsafe = check_owner, add_unknown, unsafe
        self.rules = rules_of.rules(a)
        self.ledger = Ledger(course, a.name)
        sink = log or (lambda line: print(line, flush=True))
        self.log = lambda line: sink(printable(line))
        self.now = now
        self.self_checked = False
        self.stopping = False
        self.failed: set[str] = set()  # submissions the grader failed on: not retried until a restart

    # -- one pass ---------------------------------------------------------------------------
    def pending(self) -> list[exchange.Inbound]:
        """The submissions still to decide on, in arrival order."""
        todo = []
        for entry in exchange.inbound(self.root, self.a.name):
            if entry.name in self.failed:
                continue
            rec = self.ledger.get(entry.name)
            if rec is None or rec.status not in FINAL:
                todo.append(entry)
        return todo

    def step(self) -> int:
        """Decide on the next submissions (at most `workers`, one per student) and release the full
        pages that are due; returns how many submissions were decided."""
        batch_, seen = [], set()
        for entry in self.pending():
            if entry.student in seen:
                continue  # its earlier attempt first
            seen.add(entry.student)
            batch_.append(entry)
            if len(batch_) == self.workers:
                break
        accepted = [e for e in batch_ if self._guarded(e, self._admit, e)]
        if accepted:
            self._grade(accepted)
        self._release_owed()
        return len(batch_)

    def _guarded(self, entry: exchange.Inbound, work, *args):
        """work(*args); an error there (a file the student removed meanwhile, nbgrader's exchange
        refusing) makes this submission not graded, logged, and the service goes on."""
        try:
            return work(*args)
        except CourseError:
            raise
        except Exception as exc:  # noqa: BLE001 - one submission must not stop the service
            self._not_graded(entry, f"{NOT_GRADED}: the service failed on it: {type(exc).__name__}: {exc}")
            return None

    def run(self, poll: float = 2.0, once: bool = False) -> None:
        """Serve until SIGTERM or SIGINT (or, with once, until nothing is pending)."""
        def stop(*_):
            self.stopping = True
        before = {}
        if threading.current_thread() is threading.main_thread():  # signal handlers live there only
            before = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        due = self.a.due and deadline(self.a, self.course, "")
        now = ("the due date has passed: the full page" if due and self.now() >= due else
               f"before the due date the page shows {'the visible tests only' if self.rules.before_due == 'visible' else 'the points too'}")
        self.log(f"{_stamp(self.now())} serving {self.a.name}: exchange {self.root}, course {self.course.root}, "
                 f"{self.workers} at a time; {self.rules.describe()}, the {self.rules.counts} attempt counts; {now} "
                 "(a student's extension keeps their own deadline)")
        try:
            self.settle()
            while not self.stopping:
                decided = self.step()
                if once and not decided:
                    break
                if not decided:
                    time.sleep(poll)
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)
        self.log(f"{_stamp(self.now())} stopped")

    # -- deciding on one submission ------------------------------------------------------------
    def _admit(self, entry: exchange.Inbound) -> bool:
        """Refuse what cannot be graded (recorded, told to the student where that is safe); else
        record it GRADING with its attempt number and file it under submitted/."""
        why = exchange.refusal(entry, self.check_owner)
        if why:  # not provably the student's: nothing is released to it
            self._refuse(entry, why, tell=False)
            return False
        old = self.ledger.get(entry.name)
        graded = [r.at for r in self.ledger.records(entry.student) if r.status == GRADED]
        verdict = rules_of.next_attempt(self.rules, graded, entry.when)
        if not verdict.allowed:
            self._refuse(entry, verdict.reason, tell=True)
            return False
        self._remember_counting(entry.student)
        folder = self.course.submission(entry.student, self.a.name)
        shutil.rmtree(folder, ignore_errors=True)  # the attempt that counted is kept in the ledger
        report = exchange.collect(self.a, self.course, self.root, add_unknown=self.add_unknown, force=True,
                                  check_owner=self.check_owner, only=entry.name)
        if not any(s == entry.student for s, _ in report.report.filed):
            problem = "; ".join(line for line in report.lines() if not line.startswith("filed ")) or "nothing filed"
            self._refuse(entry, f"not graded: {problem}", tell=not report.report.unknown)
            self._restore_counting(entry.student)
            return False
        number = old.number if old and old.number else verdict.number
        self.ledger.put(Record(entry.name, entry.student, entry.when.isoformat(), GRADING, number,
                               secret=exchange.secret(entry) or ""))
        return True

    def _refuse(self, entry: exchange.Inbound, reason: str, tell: bool) -> None:
        rec = Record(entry.name, entry.student, entry.when.isoformat(), REFUSED, reason=reason)
        if tell and (secret := exchange.secret(entry)):
            page = fb.refusal_page(f"{self.a.name}: not graded", reason)
            exchange.release_pages(self.a, self.course, self.root, entry.student,
                                   {Path(n).stem: page for n in self.a.notebooks}, secret, _stamp(entry.when))
            rec.released = "refusal"
        self.ledger.put(rec)
        self.log(f"{_stamp(self.now())} {self.a.name} {entry.student} {entry.name!r}: refused: {reason}")

    # -- grading -------------------------------------------------------------------------------
    def _grade(self, entries: list[exchange.Inbound]) -> None:
        t0 = time.perf_counter()
        students = [e.student for e in entries]
        try:
            outcomes = batch.grade_batch(self.a, self.course, students, workers=len(students), force=True,
                                         unsafe=self.unsafe, progress=False,
                                         self_check=None if not self.self_checked else False,
                                         notes=not self.self_checked)
        except CourseError as exc:  # the grader cannot grade at all (the self-check, the sandbox): stop
            for e in entries:
                self._not_graded(e, f"{NOT_GRADED}: {exc}")
            raise
        except Exception as exc:  # noqa: BLE001 - the grader failed on this batch: not graded, go on
            for e in entries:
                self._guarded(e, self._not_graded, e, f"{NOT_GRADED}: the grader failed: {type(exc).__name__}: {exc}")
            return
        self.self_checked = True
        seconds = time.perf_counter() - t0
        by_student = {o.student: o for o in outcomes}
        for e in entries:
            o = by_student.get(e.student)
            if o is None or o.status == NOT_GRADED:
                self._not_graded(e, o.reason if o else f"{NOT_GRADED}: no outcome")
                continue
            self._guarded(e, self._graded, e, o.reason, seconds)

    def _not_graded(self, entry: exchange.Inbound, reason: str) -> None:
        rec = self.ledger.get(entry.name) or Record(entry.name, entry.student, entry.when.isoformat(), NOT_GRADED)
        rec.status, rec.reason, rec.number = NOT_GRADED, reason, None
        self.ledger.put(rec)
        self.failed.add(entry.name)
        self.log(f"{_stamp(self.now())} {self.a.name} {entry.student} {entry.name!r}: {reason} "
                 "(not an attempt; graded again when the service starts again)")
        try:
            self._restore_counting(entry.student)
        except Exception as exc:  # noqa: BLE001 - settle() tries again at the next start
            self.log(f"{_stamp(self.now())} {self.a.name} {entry.student}: the counting attempt could not be put "
                     f"back: {type(exc).__name__}: {exc}")

    def _graded(self, entry: exchange.Inbound, reason: str, seconds: float) -> None:
        rec = self.ledger.get(entry.name)
        score, max_score, penalty, cells = _scores(self.course, self.a.name, entry.student)
        rec.status, rec.reason, rec.score, rec.max_score, rec.penalty, rec.cells = \
            GRADED, reason, score, max_score, penalty, cells
        # what was graded, kept with the attempt (submitted/ and autograded/ hold the counting one)
        keep = self.ledger.folder(entry.name)
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(self.course.submission(entry.student, self.a.name), keep / "submitted")
        done = [r for r in self.ledger.records(entry.student) if r.status == GRADED and r.entry != entry.name] + [rec]
        counting = rules_of.counting(self.rules, [(r.number, r.score) for r in done])
        for r in done:
            r.counts = r.number == counting
        _set_attempt_notice(self.course, self.a.name, entry.student, self._attempt_text(rec, counting))
        pages = self._pages(entry.student)
        (keep / "pages").mkdir(parents=True)
        for stem, text in pages.items():
            (keep / "pages" / f"{stem}.html").write_text(text, encoding="utf-8")
        shutil.copytree(self.course.autograded_submission(entry.student, self.a.name), keep / "autograded")
        rec.released = ""  # recorded graded first: a page owed is released by _release_owed
        self.ledger.put(rec)
        for r in done[:-1]:
            self.ledger.put(r)
        try:
            released = self._release(rec, pages)
        except Exception as exc:  # noqa: BLE001 - graded and recorded: _release_owed tries again
            released = f"not released yet ({type(exc).__name__}: {exc})"
        else:
            if released:
                rec.released = released
                self.ledger.put(rec)
        self.log(f"{_stamp(self.now())} {self.a.name} {entry.student} {entry.name!r}: attempt {rec.number} graded "
                 f"{score:g}/{max_score:g}" + (f" (late penalty {penalty:g})" if penalty else "")
                 + f" in {seconds:.1f} s; {'it counts' if rec.counts else f'attempt {counting} counts'}; "
                 f"page: {released}" + ("" if reason == "ok" else f"; {reason}"))
        if not rec.counts:
            try:
                self._restore_counting(entry.student)
            except Exception as exc:  # noqa: BLE001 - graded and recorded; settle() tries again at the next start
                self.log(f"{_stamp(self.now())} {self.a.name} {entry.student}: the counting attempt could not be "
                         f"put back: {type(exc).__name__}: {exc}")

    def _attempt_text(self, rec: Record, counting: int | None) -> dict:
        limit = f" of {self.rules.attempts}" + (" today" if self.rules.per == "day" else "") \
            if self.rules.attempts else ""
        text = (f"Attempt {rec.number}{limit} ({self.rules.describe()}; the {self.rules.counts} attempt is your "
                f"grade), submitted {rec.at:%Y-%m-%d %H:%M:%S} UTC.")
        if counting is not None and counting != rec.number:
            text += f" Your attempt {counting} scored higher and stays your grade."
        return {"number": rec.number, "counts": counting, "text": text}

    def _pages(self, student: str) -> dict[str, str]:
        """The full feedback pages of the student's graded submission now in autograded/ ({stem: HTML})."""
        nbgrader = self.course.nbgrader_api()
        fb.configure(nbgrader)
        result = nbgrader.generate_feedback(self.a.name, student_id=student, force=True)
        if not result.get("success"):
            raise CourseError(f"feedback {self.a.name} {student} failed:\n{(result.get('error') or '') + (result.get('log') or '')}")
        folder = self.course.feedback / student / self.a.name
        pages = {}
        for name in self.a.notebooks:
            page = folder / f"{Path(name).stem}.html"
            if page.is_file():
                fb.add_csp(page)
                pages[page.stem] = page.read_text(encoding="utf-8")
        return pages

    def _visible_pages(self, keep: Path, student: str) -> dict[str, str]:
        lines = fb.notices(keep / "autograded" / STATUS_FILE) if (keep / "autograded").is_dir() else \
            fb.notices(self.course.status_file(student, self.a.name))
        due = deadline(self.a, self.course, student)
        after = f"after your deadline ({due:%Y-%m-%d %H:%M} UTC)" if due else "after the due date"
        pages = {}
        base = keep / "autograded" if (keep / "autograded").is_dir() else \
            self.course.autograded_submission(student, self.a.name)
        for name in self.a.notebooks:
            path = base / name
            if path.is_file():
                nb = nbformat.read(path, as_version=4)
                pages[Path(name).stem] = fb.visible_page(nb, f"{self.a.name} {Path(name).stem}", lines, after)
        return pages

    def _mode(self, student: str) -> str:
        """The page a student gets now: 'full' after their deadline, else the rules' before_due."""
        due = deadline(self.a, self.course, student)
        if due is not None and self.now() >= due:
            return "full"
        return self.rules.before_due

    def _release(self, rec: Record, full: dict[str, str] | None = None) -> str:
        """Release the page the student is owed now (full: the attempt's full pages, else read from
        the ledger); returns the mode released ('' when the submission has no secret)."""
        if not rec.secret:
            return ""  # nbgrader's feedback cannot find a page for a submission without a secret
        keep = self.ledger.folder(rec.entry)
        if full is None:
            full = {p.stem: p.read_text(encoding="utf-8") for p in sorted((keep / "pages").glob("*.html"))}
        mode = self._mode(rec.student)
        pages = full if mode in ("full", "score") else self._visible_pages(keep, rec.student)
        exchange.release_pages(self.a, self.course, self.root, rec.student, pages, rec.secret, _stamp(rec.at))
        return mode

    def _release_owed(self) -> None:
        """Release what a graded attempt is owed and does not have: its page (a service stopped
        between recording it and releasing), or, after the student's deadline, its full page in place
        of the earlier one (once)."""
        for rec in self.ledger.records():
            if rec.status != GRADED or not rec.secret or rec.released == "full":
                continue
            mode = self._mode(rec.student)
            if rec.released and mode != "full":
                continue
            try:
                rec.released = self._release(rec)
            except Exception as exc:  # noqa: BLE001 - tried again at the next pass
                self.log(f"{_stamp(self.now())} {self.a.name} {rec.student} {rec.entry!r}: its page could not be "
                         f"released: {type(exc).__name__}: {exc}")
                continue
            self.ledger.put(rec)
            self.log(f"{_stamp(self.now())} {self.a.name} {rec.student} {rec.entry!r}: "
                     + ("the deadline has passed; full feedback released" if mode == "full" else f"page released: {mode}"))

    # -- the attempt that counts -------------------------------------------------------------
    def settle(self) -> None:
        """Put back every student's counting attempt that is not what submitted/ holds (a service
        stopped between recording a later attempt and putting the counting one back)."""
        for student in sorted({r.student for r in self.ledger.records() if r.status == GRADED}):
            rec = next((r for r in self.ledger.records(student) if r.status == GRADED and r.counts), None)
            if rec is None:
                continue
            keep = self.ledger.folder(rec.entry) / "submitted"
            here = self.course.submission(student, self.a.name)
            if not here.is_dir() or batch.fingerprint(keep, self.a.source) != batch.fingerprint(here, self.a.source):
                self._restore_counting(student)
                self.log(f"{_stamp(self.now())} {self.a.name} {student}: attempt {rec.number} put back as the grade")

    def _remember_counting(self, student: str) -> None:
        """Record the gradebook's grades of the counting attempt (hand grades given in Formgrader
        since it was graded) before another attempt replaces it there."""
        rec = next((r for r in self.ledger.records(student) if r.status == GRADED and r.counts), None)
        if rec is None:
            return
        try:
            rec.cells = _scores(self.course, self.a.name, student)[3]
        except Exception:  # noqa: BLE001 - nothing in the gradebook: the recorded grades stand
            return
        self.ledger.put(rec)

    def _restore_counting(self, student: str) -> None:
        """Put the student's counting attempt back in submitted/, autograded/ and the gradebook
        (after a later attempt that does not count was filed or graded there). Nothing is graded
        again: its files, its grading.json and its cells' scores are the ones recorded."""
        rec = next((r for r in self.ledger.records(student) if r.status == GRADED and r.counts), None)
        if rec is None:
            return
        keep = self.ledger.folder(rec.entry)
        for src, dest in ((keep / "submitted", self.course.submission(student, self.a.name)),
                          (keep / "autograded", self.course.autograded_submission(student, self.a.name))):
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(src, dest)
        _put_scores(self.course, self.a.name, student, rec)


def printable(text: str) -> str:
    """A log line with every control character escaped: a folder name can hold a newline, and a
    student must not be able to write a line of the service's log."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _scores(course: CourseDir, assignment: str, student: str) -> tuple[float, float, float, dict]:
    """(score after the late penalty, max score, penalty, every cell's grade) from the gradebook."""
    with course.gradebook() as gb:
        sub = gb.find_submission(assignment, student)
        penalty = float(sub.late_submission_penalty or 0.0)
        cells = {nb.name: {g.name: [g.auto_score, g.manual_score, bool(g.needs_manual_grade)] for g in nb.grades}
                 for nb in sub.notebooks}
        return max(0.0, float(sub.score) - penalty), float(sub.max_score), penalty, cells


def _put_scores(course: CourseDir, assignment: str, student: str, rec: Record) -> None:
    """Write a recorded attempt's cell grades and time back into the gradebook, then its late penalty."""
    from . import late

    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:  # a later attempt the grader failed on was removed from the gradebook
            gb.update_or_create_student(student)
            sub = gb.add_submission(assignment, student)
        sub.timestamp = rec.at.replace(tzinfo=None)
        for nb in sub.notebooks:
            for g in nb.grades:
                auto, manual, needs = rec.cells.get(nb.name, {}).get(g.name, [None, None, False])
                g.auto_score, g.manual_score, g.needs_manual_grade = auto, manual, needs
        gb.db.commit()
    late.apply(course, course.assignment(assignment), student)


def _set_attempt_notice(course: CourseDir, assignment: str, student: str, attempt: dict) -> None:
    """Add the attempt's notice to the submission's grading.json (read by the feedback page)."""
    path = course.status_file(student, assignment)
    data = json.loads(path.read_text())
    data["attempt"] = attempt
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def serve(a: Assignment, course: CourseDir, root: str, workers: int = 1, poll: float = 2.0, once: bool = False,
          check_owner: bool = True, add_unknown: bool = False, unsafe: bool = False) -> None:
    """Run the grading service of one assignment (see the module docstring)."""
    exchange._check_root(root)
    if a.due is None:
        print(f"note: {a.name} has no due date in course.toml: feedback stays as before_due says", file=sys.stderr)
    Service(a, course, root, workers, check_owner, add_unknown, unsafe).run(poll, once)
