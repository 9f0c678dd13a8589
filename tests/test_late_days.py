"""The late rule (autograder/late.py): deadlines at the end of the due day (UTC), partial days
rounded up, the term's budget spent in the order of each student's own deadlines, extensions from
extensions.csv, the penalty past the budget, max_days, the gradebook's penalty split over notebooks;
and one real grading of the tiny assignment that shows `grade` writing the charge export computes."""
import datetime as dt
import json
import shutil

import nbformat
import pytest

from autograder import api, batch, export, late
from autograder.course import CourseDir, CourseError
from tests import content_attacks as ca
from tests import tiny_assignment as tiny
from tests.isolation import UNSAFE

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission
UTC = dt.timezone.utc
A1_DUE, A2_DUE = dt.date(2026, 9, 27), dt.date(2026, 10, 18)


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def rules(budget=4, per_day=0.10, max_days=None, extensions=None, due=None) -> late.Rules:
    return late.Rules(late.LatePolicy(budget, per_day, max_days), due or {"A1": A1_DUE, "A2": A2_DUE},
                      extensions or {})


# --- the rule on its own ------------------------------------------------------------------------

def test_a_deadline_is_the_end_of_the_due_day_and_partial_days_count_whole():
    assert late.end_of(A1_DUE) == at(2026, 9, 28)
    assert late.days_late(at(2026, 9, 27, 23, 59, 59), A1_DUE) == 0
    assert late.days_late(at(2026, 9, 28), A1_DUE) == 0                     # exactly at the deadline
    assert late.days_late(at(2026, 9, 28, 0, 0, 1), A1_DUE) == 1            # one second late: a day
    assert late.days_late(at(2026, 9, 29), A1_DUE) == 1                     # 24 h late: still one
    assert late.days_late(at(2026, 9, 29, 0, 0, 1), A1_DUE) == 2
    assert late.days_late(dt.datetime(2026, 9, 29, 0, 0, 1), A1_DUE) == 2   # naive: UTC, as the gradebook
    # another zone: 01:30 on the 28th at UTC+2 is 23:30 on the 27th in UTC, on time
    assert late.days_late(dt.datetime(2026, 9, 28, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), A1_DUE) == 0


def test_the_budget_is_spent_in_deadline_order_whatever_order_the_submissions_come_in():
    a1 = late.Submitted("A1", at(2026, 9, 30, 12), 10, 10)      # 3 days late
    a2 = late.Submitted("A2", at(2026, 10, 21, 12), 10, 10)     # 3 days late
    for order in ([a1, a2], [a2, a1]):
        c = rules(budget=4).charges("ada", order)
        assert (c["A1"].days_late, c["A1"].days_used, c["A1"].days_charged, c["A1"].budget_left) == (3, 3, 0, 1)
        assert (c["A2"].days_late, c["A2"].days_used, c["A2"].days_charged, c["A2"].budget_left) == (3, 1, 2, 0)
        assert c["A1"].points == 0 and c["A2"].penalty == pytest.approx(0.2) and c["A2"].points == pytest.approx(2)


def test_an_extension_moves_the_students_deadline_and_so_the_order_the_budget_is_spent_in():
    a1 = late.Submitted("A1", at(2026, 10, 21, 12), 10, 10)
    a2 = late.Submitted("A2", at(2026, 10, 20, 12), 10, 10)     # 2 days after A2's due date
    plain = rules(budget=2).charges("ada", [a1, a2])
    assert plain["A1"].days_late == 24 and plain["A1"].days_used == 2 and plain["A2"].days_charged == 2
    moved = rules(budget=2, extensions={("ada", "A1"): dt.date(2026, 10, 19)}).charges("ada", [a1, a2])
    # A1's deadline is now after A2's: A2 spends the budget first, then A1 is 2 days late and charged
    assert moved["A1"].extended and moved["A1"].due == dt.date(2026, 10, 19) and moved["A1"].days_late == 2
    assert (moved["A2"].days_used, moved["A2"].days_charged) == (2, 0)
    assert (moved["A1"].days_used, moved["A1"].days_charged, moved["A1"].budget_left) == (0, 2, 0)
    # the extension is that student's only
    assert rules(budget=2, extensions={("bob", "A1"): dt.date(2026, 10, 19)}).charges("ada", [a1])["A1"].days_late == 24
    # on time only thanks to it
    bob = rules(extensions={("bob", "A1"): dt.date(2026, 10, 1)}).charges("bob", [late.Submitted("A1", at(2026, 9, 30), 5, 10)])
    assert bob["A1"].days_late == 0 and "your deadline of 2026-10-01 (an extension)" in bob["A1"].describe()


def test_days_past_the_budget_cost_a_fraction_of_the_maximum_never_more_than_the_score():
    r = rules(budget=1, per_day=0.3)
    c = r.charges("ada", [late.Submitted("A1", at(2026, 10, 2, 1), 9, 20)])["A1"]   # 5 days late
    assert (c.days_used, c.days_charged, c.budget_left) == (1, 4, 0)
    assert c.penalty == 1.0 and c.points == 9           # 4 x 30% is all of it, and only the 9 earned can go
    c = r.charges("ada", [late.Submitted("A1", at(2026, 9, 29, 1), 9, 20)])["A1"]   # 2 days late
    assert c.penalty == pytest.approx(0.3) and c.points == pytest.approx(6)


def test_later_than_max_days_scores_0_and_spends_no_late_days():
    r = rules(budget=4, per_day=0.1, max_days=5)
    on_edge = r.charges("ada", [late.Submitted("A1", at(2026, 10, 3), 8, 10)])["A1"]     # exactly 5 days
    assert not on_edge.zeroed and on_edge.days_used == 4 and on_edge.points == pytest.approx(1)
    past = r.charges("ada", [late.Submitted("A1", at(2026, 10, 3, 0, 0, 1), 8, 10),
                             late.Submitted("A2", at(2026, 10, 20, 12), 8, 10)])
    assert past["A1"].zeroed and past["A1"].days_late == 6 and past["A1"].points == 8
    assert past["A1"].days_used == 0 and past["A2"].days_used == 2 and past["A2"].budget_left == 2
    assert past["A1"].describe() == ("Submitted 6 days after your deadline of 2026-09-27: more than 5 days late "
                                     "scores 0 (-8 points); no late days used, 4 left of 4.")


def test_the_sentence_for_the_student():
    r = rules(budget=4, per_day=0.10, due={"A0": dt.date(2026, 9, 10), "A1": dt.date(2026, 9, 20)},
              extensions={("ada", "A1"): A1_DUE})
    c = r.charges("ada", [late.Submitted("A0", at(2026, 9, 12, 9), 10, 10),
                          late.Submitted("A1", at(2026, 9, 30, 9), 11, 12)])
    assert c["A1"].describe() == ("Submitted 3 days after your deadline of 2026-09-27 (an extension): 2 late days "
                                  "used, 0 left of 4; 1 day charged at 10%: -1.2 points.")
    assert c["A0"].describe() == "Submitted 2 days after your deadline of 2026-09-10: 2 late days used, 2 left of 4; no penalty."
    on_time = r.charges("bob", [late.Submitted("A1", at(2026, 9, 20, 9), 1, 12)])["A1"]
    assert on_time.describe() == "Submitted on time for your deadline of 2026-09-20; late days: 4 left of 4."
    record = c["A1"].record()
    assert {k: record[k] for k in ("days_late", "days_used", "days_charged", "budget_left", "penalty")} == {
        "days_late": 3, "days_used": 2, "days_charged": 1, "budget_left": 0, "penalty": 1.2}
    assert record["text"] == c["A1"].describe() and json.loads(json.dumps(record)) == record


# --- course.toml's table and extensions.csv ------------------------------------------------------

def _course(tmp_path, toml: str, names=("A1", "A2")) -> CourseDir:
    for name in names:
        (tmp_path / "solutions" / name).mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / "solutions" / name / f"{name}.ipynb")
    (tmp_path / "course.toml").write_text(toml)
    from autograder.course import Course

    return CourseDir(tmp_path / "term", source=Course(tmp_path))


BLOCKS = '[assignments.A1]\ndue = 2026-09-27\n[assignments.A2]\ndue = 2026-10-18\n'


def test_no_table_means_no_rule_and_the_table_is_read(tmp_path):
    assert late.Rules.of(_course(tmp_path / "none", BLOCKS)) is None
    r = late.Rules.of(_course(tmp_path / "some", "[late_days]\nbudget = 3\npenalty_per_day = 0.25\nmax_days = 6\n" + BLOCKS))
    assert r.policy == late.LatePolicy(3, 0.25, 6) and r.due == {"A1": A1_DUE, "A2": A2_DUE} and r.extensions == {}


@pytest.mark.parametrize("table, message", [
    ("budget = -1", "budget must be a whole number of days"),
    ("budget = 2.5", "budget must be a whole number of days"),
    ("budget = true", "budget must be a whole number of days"),
    ("max_days = -3", "max_days must be a whole number"),
    ("penalty_per_day = 1.5", "penalty_per_day must be a fraction"),
    ("penalty_per_day = '10%'", "penalty_per_day must be a fraction"),
    ("budgett = 4", r"unknown key\(s\) budgett; expected some of budget, penalty_per_day, max_days"),
])
def test_a_bad_policy_says_what_to_write(tmp_path, table, message):
    with pytest.raises(CourseError, match=message):
        late.Rules.of(_course(tmp_path, f"[late_days]\n{table}\n" + BLOCKS))
    with pytest.raises(CourseError, match="must be a table"):
        late.LatePolicy.from_table(4)


@pytest.mark.parametrize("rows, message", [
    ("ada,A3,2026-10-01", r"line 2: 'A3' is not an assignment with a due date .* expected one of A1, A2"),
    ("ada,A1,2026-09-27\nbob,A1,1 Oct", r"line 3: due '1 Oct' is not a date such as 2026-10-20"),
    ("../ada,A1,2026-10-01", r"line 2: '../ada' is not a student id"),
    ("ada,A1,2026-09-20", r"line 2: the extension's due date 2026-09-20 is before A1's own due date 2026-09-27"),
    ("ada,A1,2026-10-01\nbob,A2,2026-10-20\nada,A1,2026-10-02", r"line 4: a second extension for ada on A1 \(the first is on line 2\)"),
])
def test_extensions_are_checked_line_by_line(tmp_path, rows, message):
    term = _course(tmp_path, "[late_days]\nbudget = 2\n" + BLOCKS)
    term.root.mkdir()
    term.extensions_csv.write_text("student_id,assignment,due\n" + rows + "\n")
    with pytest.raises(CourseError, match=message):
        late.Rules.of(term)


def test_extensions_are_read_with_a_reason_column_and_refused_without_a_policy(tmp_path):
    term = _course(tmp_path, "[late_days]\nbudget = 2\n" + BLOCKS)
    term.root.mkdir()
    term.extensions_csv.write_text("\ufeffstudent_id,assignment,due,reason\nada,A1,2026-10-01,illness\n\nbob,A2,2026-10-18,\n")
    assert late.Rules.of(term).extensions == {("ada", "A1"): dt.date(2026, 10, 1), ("bob", "A2"): A2_DUE}
    assert late.deadline("A1", term, "ada") == at(2026, 10, 2) and late.deadline("A1", term, "bob") == at(2026, 9, 28)
    term.extensions_csv.write_text("student,assignment,due\n")
    with pytest.raises(CourseError, match="header must name the columns student_id,assignment,due .missing student_id"):
        late.Rules.of(term)
    (tmp_path / "course.toml").write_text(BLOCKS)
    with pytest.raises(CourseError, match=r"extensions.csv gives extensions, but .*course.toml has no \[late_days\]"):
        late.Rules.of(term)


# --- the gradebook ------------------------------------------------------------------------------

def test_a_penalty_is_split_by_maximum_and_never_more_than_a_notebooks_score():
    assert late.split(3, [(10, 10), (10, 20)]) == [1.0, 2.0]
    assert late.split(6, [(0, 10), (10, 10)]) == [0.0, 6.0]        # nothing to take from the first
    assert late.split(8, [(1, 10), (10, 10)]) == [1.0, 7.0]        # what the first cannot give, the second does
    assert late.split(50, [(4, 10), (3, 10)]) == [4.0, 3.0]        # never more than the score in all
    assert late.split(0, [(4, 10)]) == [0.0]


def test_apply_writes_nbgraders_own_penalty_fields(tmp_path):
    term = CourseDir(tmp_path)
    with term.gradebook() as gb:
        gb.add_assignment("A1")
        for nb, cells in (("n1", {"q1": 4.0}), ("n2", {"q2": 8.0, "q3": 4.0})):
            gb.add_notebook(nb, "A1")
            for name, points in cells.items():
                gb.add_grade_cell(name, nb, "A1", max_score=points, cell_type="code")
        gb.add_student("ada")
        gb.add_submission("A1", "ada", timestamp=dt.datetime(2026, 9, 30, 12))  # 3 days late
        for name, nb, score in (("q1", "n1", 1.0), ("q2", "n2", 8.0), ("q3", "n2", 4.0)):
            gb.find_grade(name, nb, "A1", "ada").auto_score = score
        gb.db.commit()
        charges = late.apply_student(gb, rules(budget=1, per_day=0.25), "ada")   # 2 days x 25% of 16 = 8 points
        assert charges["A1"].points == 8
        sub = gb.find_submission("A1", "ada")
        # by maximum 4:12 would be 2 and 6; n1 has only 1 point, so n2 gives the rest
        assert {nb.name: nb.late_submission_penalty for nb in sub.notebooks} == {"n1": 1.0, "n2": 7.0}
        assert sub.late_submission_penalty == 8.0 and sub.score == 13.0
        late.apply_student(gb, rules(budget=9), "ada")                       # covered: nbgrader's None again
        assert [nb.late_submission_penalty for nb in gb.find_submission("A1", "ada").notebooks] == [None, None]


# --- grade applies it: one real grading ----------------------------------------------------------

def _submit(work, released, root, student, when):
    folder = work.submission(student, tiny.NAME)
    folder.mkdir(parents=True)
    nbformat.write(ca.filled(released, root / "solutions"), folder / tiny.NOTEBOOK)
    (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))  # as collect writes it


def test_grade_charges_what_export_computes_in_deadline_order(tmp_path):
    """T1 (due 2026-10-01) is graded after T2 (due 2026-10-18, a later deadline) was charged: grading T1
    re-charges T2 in deadline order; every charge in the gradebook and grading.json is export's."""
    root = tmp_path
    work = tiny.term(root)
    shutil.copytree(root / "solutions" / tiny.NAME, root / "solutions" / "T2")
    (root / "course.toml").write_text("[late_days]\nbudget = 2\npenalty_per_day = 0.25\nmax_days = 5\n"
                                      f"[assignments.{tiny.NAME}]\ndue = 2026-10-01\n[assignments.T2]\ndue = 2026-10-18\n")
    work.root.mkdir()
    work.extensions_csv.write_text(f"student_id,assignment,due\nbob,{tiny.NAME},2026-10-05\n")
    released = api.release(tiny.NAME, work, release_dir=root / "release")
    api.release("T2", work, release_dir=root / "release")
    rules_ = late.Rules.of(work)
    with work.gradebook() as gb:  # ada's T2, 1 day late, already graded: the budget covered it then
        gb.update_or_create_student("ada")
        gb.add_submission("T2", "ada", timestamp=dt.datetime(2026, 10, 19, 1))
        for nb in gb.find_submission("T2", "ada").notebooks:
            for g in nb.grades:
                g.auto_score, g.needs_manual_grade = (g.max_score, False) if g.cell.cell_type == "code" else (None, True)
        gb.db.commit()
    t2_before = batch.settle_late(work, rules_, "ada", "T2")
    assert t2_before["days_used"] == 1 and t2_before["penalty"] == 0
    work.autograded_submission("ada", "T2").mkdir(parents=True)
    work.status_file("ada", "T2").write_text(json.dumps({"status": "graded", "reason": "ok", "late": t2_before}))
    _submit(work, released, root, "ada", at(2026, 10, 3, 10))       # 2 days late: the whole budget
    _submit(work, released, root, "bob", at(2026, 10, 4, 12))       # on time for the extension
    _submit(work, released, root, "cat", at(2026, 10, 8, 0, 0, 1))  # 7 days late: over max_days
    _submit(work, released, root, "dan", at(2026, 10, 5, 6))        # 4 days late: 2 covered, 2 charged
    outcomes = batch.grade_batch(tiny.NAME, work, workers=2, limits={"cell_timeout": 30, "notebook_timeout": 60},
                                 progress=False, unsafe=UNSAFE)
    assert {o.student: o.status for o in outcomes} == dict.fromkeys(["ada", "bob", "cat", "dan"], "graded")
    entry = {s: batch.read_status(work, tiny.NAME, s)["late"] for s in ("ada", "bob", "cat", "dan")}
    assert {s: (e["days_late"], e["days_used"], e["days_charged"], e["budget_left"], e["penalty"])
            for s, e in entry.items()} == {"ada": (2, 2, 0, 0, 0), "bob": (0, 0, 0, 2, 0), "cat": (7, 0, 0, 2, 5),
                                          "dan": (4, 2, 2, 0, 3.0)}   # 2 x 25% of 6 points
    assert "(an extension)" in entry["bob"]["text"] and "more than 5 days late scores 0" in entry["cat"]["text"]
    t2_after = batch.read_status(work, "T2", "ada")["late"]       # ada's T2 now comes after T1 spent it all
    assert (t2_after["days_used"], t2_after["days_charged"], t2_after["penalty"]) == (0, 1, 1.5)
    with work.gradebook() as gb:
        in_gradebook = {(s.student.id, s.assignment.name): s.late_submission_penalty
                        for a in gb.assignments for s in a.submissions}
        raw = {(s.student.id, s.assignment.name): s.score for a in gb.assignments for s in a.submissions}
    assert in_gradebook == {("ada", tiny.NAME): 0, ("bob", tiny.NAME): 0, ("cat", tiny.NAME): 5,
                            ("dan", tiny.NAME): 3, ("ada", "T2"): 1.5}
    assert raw[("cat", tiny.NAME)] == 5                                # nbgrader's raw score stays
    out = api.export(work, tmp_path / "grades.csv")
    with open(out, newline="") as fh:
        import csv

        exported = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}
    for key, penalty in in_gradebook.items():
        assert float(exported[key]["late_submission_penalty"]) == penalty, key
        assert float(exported[key]["score"]) == raw[key] - penalty, key
    assert exported[("dan", tiny.NAME)]["late_days_used"] == "2.0" and exported[("cat", tiny.NAME)]["days_late"] == "7.0"
    with work.gradebook() as gb:  # and export computes them itself, from the timestamps
        assert {(r.student, r.assignment): r.penalty for r in export.records(gb, rules_) if r.status == "graded"} \
            == in_gradebook
