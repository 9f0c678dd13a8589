"""nbgrader configuration of a student's server on the course's JupyterHub.

Install it where every single-user server reads it: /etc/jupyter/nbgrader_config.py
(hub/single_user_setup.sh does). The Assignment List in JupyterLab and the student commands
(`nbgrader fetch_assignment A1`, `nbgrader submit A1`, `nbgrader fetch_feedback A1`) then use
the course's exchange without further options.
"""
c = get_config()  # noqa: F821 - provided by traitlets when this file is loaded

# The course id of autograder/nbgrader_config.py: the exchange keeps each course under its id.
c.CourseDirectory.course_id = "cnn-architectures"
# The shared folder every student's server mounts at the same path (777 with the sticky bit;
# hub/setup_exchange.sh creates it). The instructor passes the same path to --exchange.
c.Exchange.root = "/srv/nbgrader/exchange"
# A fetched assignment lands in the student's home folder as A1/, not cnn-architectures/A1/.
c.Exchange.path_includes_course = False
