"""nbgrader configuration of the course. `python -m autograder` loads it and then points the
course root at the working folder (--course-dir), the source at solutions/ and the release at
assignments/. nbgrader run by hand from the repository root reads it through ../nbgrader_config.py.
"""
c = get_config()  # noqa: F821 - provided by traitlets when this file is loaded

# The gradebook's course row; PostgreSQL enforces it (nbgrader's default '' works on sqlite only).
c.CourseDirectory.course_id = "cnn-architectures"

# Instructor notebooks live in solutions/, released student versions in assignments/.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
# Percent-script sources (*.pct.py) sit beside each notebook; they are for authors, not students.
# An assignment's grading limits are in course.toml (autograder/limits.py), not in its folder.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.pct.py"]

# Training cells take longer than nbgrader's default of 30 s per cell. Execute (nbgrader's own
# subclass of ExecutePreprocessor) declares its own timeout trait, so it must be set by this name.
c.Execute.timeout = 600

# A test cell that writes to stderr loses its points. Warnings from torch or numpy are not the
# student's fault: drop stderr output that is only warnings before grading.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?m)^.*\b\w*Warning: "
