"""export's files (autograder/export.py): nbgrader's columns byte for byte as before, and what Canvas's
and Moodle's gradebook imports read, checked against their parsers' rules (canvas-lms
lib/gradebook_importer.rb, Moodle grade/import/csv/classes/load_data.php); per-question columns that
sum to the raw score; the late rule recomputed from the timestamps; no formulas; blank, never 0, where
the grader failed. Tiny gradebooks built with nbgrader's own API: nothing is graded here."""
import csv
import datetime as dt
import json
import re
import shutil

import nbformat
import pytest

from autograder import api, cli, export, late
from autograder.course import Course, CourseDir, CourseError

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission
EVIL_FIRST, EVIL_LAST, EVIL_EMAIL = '=HYPERLINK("http://x","y")', "-1+1", "@SUM(1+1)"

# What export wrote before the LMS formats, for the gradebook of build() (no late rule): the default
# must not change for anyone who reads it.
NBGRADER_CSV = '''\
"assignment","duedate","timestamp","student_id","last_name","first_name","email","raw_score","late_submission_penalty","score","max_score"
"A1","","2026-09-27 23:00:00","eve","'-1+1","'=HYPERLINK(""http://x"",""y"")","'@SUM(1+1)",4.0,1.5,2.5,10.0
"A1","","2026-09-30 12:00:00","ada","Lovelace","Ada","ada@example.org",9.0,0.0,9.0,10.0
"A1","","","bob","O'Brien, Jr.","José","",0.0,0.0,0.0,10.0
"A2","","","eve","'-1+1","'=HYPERLINK(""http://x"",""y"")","'@SUM(1+1)",0.0,0.0,0.0,5.0
"A2","","2026-10-18 09:00:00","ada","Lovelace","Ada","ada@example.org",2.5,0.0,2.5,5.0
"A2","","","bob","O'Brien, Jr.","José","",0.0,0.0,0.0,5.0
'''.replace("\n", "\r\n")


def build(term: CourseDir) -> None:
    """A1 (q1 4 points, q2 6) and A2 (p1 5); ada submitted both (A1 3 days late, A2 on time), eve A1
    on time with a penalty nbgrader holds from elsewhere (1.5), bob nothing."""
    with term.gradebook() as gb:
        for a, cells in (("A1", {"q1": 4.0, "q2": 6.0}), ("A2", {"p1": 5.0})):
            gb.add_assignment(a)
            gb.add_notebook(f"{a}_nb", a)
            for name, points in cells.items():
                gb.add_grade_cell(name, f"{a}_nb", a, max_score=points, cell_type="code")
        gb.add_student("ada", first_name="Ada", last_name="Lovelace", email="ada@example.org")
        gb.add_student("bob", first_name="José", last_name="O'Brien, Jr.")
        gb.add_student("eve", first_name=EVIL_FIRST, last_name=EVIL_LAST, email=EVIL_EMAIL)
        gb.add_submission("A1", "ada", timestamp=dt.datetime(2026, 9, 30, 12))
        gb.find_grade("q1", "A1_nb", "A1", "ada").auto_score = 3.0
        gb.find_grade("q2", "A1_nb", "A1", "ada").auto_score = 6.0
        gb.add_submission("A2", "ada", timestamp=dt.datetime(2026, 10, 18, 9))
        gb.find_grade("p1", "A2_nb", "A2", "ada").auto_score = 2.5
        gb.add_submission("A1", "eve", timestamp=dt.datetime(2026, 9, 27, 23))
        gb.find_grade("q1", "A1_nb", "A1", "eve").auto_score = 4.0
        gb.find_submission_notebook("A1_nb", "A1", "eve").late_submission_penalty = 1.5
        gb.db.commit()


POLICY = "[late_days]\nbudget = 1\npenalty_per_day = 0.25\n"
BLOCKS = "[assignments.A1]\ndue = 2026-09-27\n[assignments.A2]\ndue = 2026-10-18\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """build()'s gradebook, made once (nbgrader takes seconds to create a database): each test copies it."""
    where = tmp_path_factory.mktemp("gradebook")
    build(CourseDir(where))
    return where / "gradebook.db"


@pytest.fixture
def term_of(tmp_path, built):
    def make(toml: str = BLOCKS) -> CourseDir:
        """A course with A1 and A2 (course.toml: toml) and its term folder holding build()'s gradebook."""
        for name in ("A1", "A2"):
            (tmp_path / "solutions" / name).mkdir(parents=True)
            nbformat.write(nbformat.v4.new_notebook(), tmp_path / "solutions" / name / f"{name}_nb.ipynb")
        (tmp_path / "course.toml").write_text(toml)
        term = CourseDir(tmp_path / "term", source=Course(tmp_path))
        term.root.mkdir()
        shutil.copy(built, term.gradebook_file)
        return term
    return make


def rows_of(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def canvas_import(rows):
    """What Canvas's importer takes from a file (canvas-lms lib/gradebook_importer.rb: header?,
    update_column_count, strip_non_assignment_columns, check_for_non_student_row, readonly_assignment?):
    ({assignment column: points possible}, {SIS Login ID: {assignment: grade}}, {SIS Login ID: Student})."""
    head = rows[0]
    assert len(head) > 3 and "Student" in head[0] and "ID" in head[1], "row_has_student_headers?"
    assert re.match(r"SIS\s+User\s+ID", head[2]) and re.match(r"SIS\s+Login\s+ID", head[3]), "update_column_count"
    assert "Section" in head[4], "the last student column must be Section"
    non_assignment = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                                "Override Score|Override Grade|Override Status")
    assert "Points Possible" in rows[1][0]
    points = dict(zip(head, rows[1]))
    columns = [i for i, h in enumerate(head) if i >= 5 and not non_assignment.search(h)
               and not re.search(r"read\s+only", points[h])]
    grades, names = {}, {}
    for row in rows[2:]:
        assert len(row) == len(head) and row[1] == "" and row[2] == ""  # ID and SIS User ID: left for the login
        grades[row[3]] = {head[i]: row[i] for i in columns}
        names[row[3]] = row[0]
    return {head[i]: points[head[i]] for i in columns}, grades, names


def moodle_import(rows, usernames):
    """What Moodle's CSV grade import needs (load_data.php prepare_import_grade_data,
    map_user_data_with_value, update_grade_item): a header row, then every row one existing user by
    the column mapped to username; a grade is empty, '-' or a number. {username: {column: value}}."""
    head = rows[0]
    assert head[:4] == export.MOODLE_STUDENT
    user = head.index("Username")
    out = {}
    for row in rows[1:]:
        assert len(row) == len(head) and row[user] in usernames, row
        out[row[user]] = dict(zip(head, row))
    return out


def number_or_blank(value: str) -> float | None:
    return None if value in ("", "-") else float(value)


def test_the_default_csv_is_byte_for_byte_what_it_was(tmp_path, term_of):
    term = term_of()
    out = api.export(term)
    assert out == term.grades_csv and out.read_bytes() == NBGRADER_CSV.encode()
    with term.gradebook() as gb:
        assert export.write_grades(gb, tmp_path / "again.csv").read_bytes() == NBGRADER_CSV.encode()
        assert [r["student_id"] for r in export.grade_records(gb)][:3] == ["eve", "ada", "bob"]
    assert [p.name for p in term.root.iterdir() if p.name.startswith(".grades-")] == []  # no temporary left


def test_with_a_policy_the_csv_charges_the_late_rule_from_the_timestamps(tmp_path, term_of):
    term = term_of(POLICY + BLOCKS)
    rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(open(api.export(term), newline=""))}
    assert list(next(csv.reader(open(term.grades_csv)))) == export.COLUMNS + export.LATE_COLUMNS
    ada = rows[("ada", "A1")]   # 3 days late, 1 covered: 2 x 25% of 10 points
    assert (ada["days_late"], ada["late_days_used"], ada["late_days_left"]) == ("3.0", "1.0", "0.0")
    assert (float(ada["late_submission_penalty"]), float(ada["score"])) == (5.0, 4.0)
    eve = rows[("eve", "A1")]   # on time: the rule, not the 1.5 the gradebook held, is what counts
    assert (float(eve["late_submission_penalty"]), float(eve["score"]), eve["days_late"]) == (0.0, 4.0, "0.0")
    assert rows[("bob", "A1")]["days_late"] == "" and float(rows[("bob", "A1")]["score"]) == 0


def test_the_canvas_file_is_what_canvas_imports(tmp_path, term_of):
    term = term_of(POLICY + BLOCKS)
    out = api.export(term, fmt="canvas")
    assert out == term.root / "grades-canvas.csv"
    rows = rows_of(out)
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[0][5:] == ["A1", "A1 late days used", "A1 late penalty", "A2", "A2 late days used", "A2 late penalty"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "10.0", "(read only)", "(read only)",
                       "5.0", "(read only)", "(read only)"]
    points, grades, names = canvas_import(rows)
    assert points == {"A1": "10.0", "A2": "5.0"}                      # late columns are not imported
    assert grades == {"ada": {"A1": "4.0", "A2": "2.5"}, "bob": {"A1": "", "A2": ""},
                      "eve": {"A1": "4.0", "A2": ""}}                 # blank where nothing was submitted
    assert names["ada"] == "Lovelace, Ada" and names["bob"] == "O'Brien, Jr., José"
    ada = dict(zip(rows[0], next(r for r in rows if r[3] == "ada")))
    assert (ada["A1 late days used"], ada["A1 late penalty"]) == ("1.0", "5.0")


def test_the_moodle_file_is_what_moodle_imports(tmp_path, term_of):
    term = term_of(POLICY + BLOCKS)
    rows = rows_of(api.export(term, fmt="moodle"))
    assert rows[0] == export.MOODLE_STUDENT + ["A1", "A1 late days used", "A1 late penalty",
                                               "A2", "A2 late days used", "A2 late penalty"]
    users = moodle_import(rows, {"ada", "bob", "eve"})
    assert set(users) == {"ada", "bob", "eve"} and len(rows) == 4    # one row per student, no other row
    for u in users.values():
        for column in rows[0][4:]:
            number_or_blank(u[column])                                # Moodle refuses anything else
    assert (users["ada"]["A1"], users["ada"]["Email address"], users["ada"]["First name"]) == ("4.0", "ada@example.org", "Ada")
    assert users["bob"]["A1"] == "" and users["bob"]["A1 late penalty"] == ""


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_per_question_columns_sum_to_the_raw_score(tmp_path, term_of, fmt):
    term = term_of(POLICY + BLOCKS)
    rows = rows_of(api.export(term, fmt=fmt, per_question=True))
    head = rows[0]
    assert [h for h in head if h.startswith(("A1 q", "A1 p", "A2 p"))] == ["A1 q1", "A1 q2", "A2 p1"]
    if fmt == "canvas":
        pp = dict(zip(head, rows[1]))
        assert pp["A1 q1"] == pp["A1 q2"] == pp["A2 p1"] == "(read only)"   # read, never imported as assignments
    body = [dict(zip(head, r)) for r in rows[(2 if fmt == "canvas" else 1):]]
    key = {"csv": "student_id", "canvas": "SIS Login ID", "moodle": "Username"}[fmt]
    ada = [r for r in body if r[key] == "ada"]
    if fmt == "csv":
        a1 = next(r for r in ada if r["assignment"] == "A1")
        assert float(a1["A1 q1"]) + float(a1["A1 q2"]) == float(a1["raw_score"]) == 9
        assert float(a1["raw_score"]) - float(a1["late_submission_penalty"]) == float(a1["score"])
        assert a1["A2 p1"] == ""                                        # another assignment's column
    else:
        (ada,) = ada
        assert float(ada["A1 q1"]) + float(ada["A1 q2"]) - float(ada["A1 late penalty"]) == float(ada["A1"]) == 4
        assert float(ada["A2 p1"]) == float(ada["A2"]) == 2.5


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_no_field_is_a_formula_in_any_format(tmp_path, term_of, fmt):
    term = term_of()
    rows = rows_of(api.export(term, fmt=fmt))
    fields = [f for r in rows for f in r]
    assert not [f for f in fields if f.startswith(export.FORMULA_START)]
    assert "'" + EVIL_EMAIL in fields or fmt == "canvas"
    expected = {"csv": ["'" + EVIL_LAST, "'" + EVIL_FIRST], "canvas": [f"'{EVIL_LAST}, {EVIL_FIRST}"],
                "moodle": ["'" + EVIL_FIRST, "'" + EVIL_LAST]}[fmt]
    assert all(e in fields for e in expected)
    assert all(len(r) == len(rows[0]) for r in rows)                  # a comma in a name shifts nothing


def test_a_submission_the_grader_failed_on_is_blank_never_0(tmp_path, term_of):
    term = term_of()
    status = term.status_file("bob", "A1")
    status.parent.mkdir(parents=True)
    status.write_text(json.dumps({"status": "not graded", "reason": "not graded: the checker stopped"}))
    csv_rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(open(api.export(term), newline=""))}
    assert (csv_rows[("bob", "A1")]["raw_score"], csv_rows[("bob", "A1")]["score"]) == ("", "")
    assert csv_rows[("bob", "A2")]["score"] == "0.0"                 # nothing submitted: nbgrader's 0, as before
    _, grades, _ = canvas_import(rows_of(api.export(term, fmt="canvas")))
    assert grades["bob"]["A1"] == ""


def test_the_command_line_writes_each_format_and_one_assignment(tmp_path, term_of, capsys):
    term = term_of(POLICY + BLOCKS)
    args = ["export", "--source", str(tmp_path), "--course-dir", str(term.root)]
    assert cli.main(args + ["--format", "canvas", "--assignment", "A2", "--per-question"]) == 0
    assert "grades-canvas.csv" in capsys.readouterr().out
    rows = rows_of(term.root / "grades-canvas.csv")
    assert rows[0][5:] == ["A2", "A2 late days used", "A2 late penalty", "A2 p1"]
    assert cli.main(args + ["--format", "canvas"]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert cli.main(args + ["--format", "moodle", "--assignment", "A9", "--to", str(tmp_path / "m.csv")]) == 2
    assert "no assignment 'A9' in the gradebook" in capsys.readouterr().err and not (tmp_path / "m.csv").exists()
    assert cli.main(args + ["--format", "canvas", "--force"]) == 0
    assert rows_of(term.root / "grades-canvas.csv")[0][5:8] == ["A1", "A1 late days used", "A1 late penalty"]
    with pytest.raises(CourseError, match="unknown export format 'xls'"):
        with term.gradebook() as gb:
            export.write(gb, tmp_path / "x.csv", "xls")
    assert not list(tmp_path.glob(".grades-*")) and not list(term.root.glob(".grades-*"))


def test_records_are_what_every_format_writes(tmp_path, term_of):
    term = term_of(POLICY + BLOCKS)
    with term.gradebook() as gb:
        recs = {(r.student, r.assignment): r for r in export.records(gb, late.Rules.of(term))}
    ada = recs[("ada", "A1")]
    assert ada.status == "graded" and ada.charge.days_late == 3 and ada.penalty == 5 and ada.score == 4
    assert ada.questions == {("A1_nb", "q1"): 3.0, ("A1_nb", "q2"): 6.0}
    assert recs[("bob", "A1")].status == "missing" and recs[("bob", "A1")].charge is None
