"""The grading service of one assignment as a JupyterHub managed service: add these lines to the
hub's jupyterhub_config.py (after the `c = get_config()` line), one entry per open assignment.

The Hub starts the command when it starts, restarts it if it exits, and stops it with the Hub. A
managed service runs as the Hub's own unix user (usually root): the grader then refuses to grade
without a cgroup for the kernels (autograder/README.md, "Isolation"); name one with
AUTOGRADER_CGROUP below, or run the service as a systemd unit instead (hub/autograder-serve@.service,
which gets its own delegated cgroup). Replace /opt/cnn-course with the clone of the course's
repository, and /srv/cnn-course/term with the term's course folder (`--course-dir`).
"""
c = get_config()  # noqa: F821 - provided by traitlets when jupyterhub_config.py is loaded

REPO = "/opt/cnn-course"
COURSE_DIR = "/srv/cnn-course/term"

c.JupyterHub.services = [
    {
        "name": "autograder-A1",
        "command": [f"{REPO}/.venv/bin/python", "-m", "autograder", "serve", "A1",
                    "--exchange", "/srv/nbgrader/exchange", "--course-dir", COURSE_DIR, "--workers", "2"],
        "cwd": REPO,
        # the service reads nothing of the Hub's API; its log (one line per submission) goes to the Hub's
        "environment": {"AUTOGRADER_CGROUP": "/sys/fs/cgroup/autograder"},
    },
]
