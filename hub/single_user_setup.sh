#!/bin/sh
# Prepare the JupyterHub single-user image for the course's students. Run it while building the
# image, as root, from a checkout of the repository, with the image's Python environment first on
# PATH:
#
#   pip install -r requirements.txt && hub/single_user_setup.sh
#
# It installs the student's nbgrader configuration (hub/nbgrader_config.py -> /etc/jupyter/) and
# leaves students the Assignment List and Validate, turning off what only the instructor uses:
# the Formgrader, Create Assignment and the Course List, both their JupyterLab plugins and their
# server extensions, for the whole environment (sys-prefix).
#
#   hub/single_user_setup.sh --user   does the same for one user: into $JUPYTER_CONFIG_DIR
#                                     (default ~/.jupyter); the tests use it this way.
#
# $PYTHON (default python3) is the image's interpreter; the commands are those of
# `jupyter labextension` and `jupyter server extension`, run as modules.
set -eu
here=$(dirname "$0")
py=${PYTHON:-python3}
if [ "${1:-}" = "--user" ]; then
    lab_level=--level=user server_level=--user
    dest=${JUPYTER_CONFIG_DIR:-$HOME/.jupyter}
else
    lab_level=--level=sys_prefix server_level=--sys-prefix
    dest=/etc/jupyter
fi
mkdir -p "$dest"
cp "$here/nbgrader_config.py" "$dest/nbgrader_config.py"
for plugin in formgrader create-assignment course-list; do
    "$py" -m jupyterlab.labextensions disable $lab_level "@jupyter/nbgrader:$plugin"
done
"$py" -m jupyterlab.labextensions enable $lab_level @jupyter/nbgrader:assignment-list
if [ "$server_level" = --user ]; then
    # `jupyter server extension disable --user` refuses an extension the user's own config does not
    # list yet; the user's jupyter_server_config.json overrides the environment's, so write it there.
    "$py" - "$dest/jupyter_server_config.json" <<'PY'
import json, os, sys
path = sys.argv[1]
config = json.load(open(path)) if os.path.exists(path) else {}
ext = config.setdefault("ServerApp", {}).setdefault("jpserver_extensions", {})
ext.update({"nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False,
            "nbgrader.server_extensions.assignment_list": True, "nbgrader.server_extensions.validate_assignment": True})
json.dump(config, open(path, "w"), indent=2)
PY
else
    for ext in formgrader course_list; do
        "$py" -m jupyter_server.extension.serverextension disable $server_level "nbgrader.server_extensions.$ext"
    done
    for ext in assignment_list validate_assignment; do
        "$py" -m jupyter_server.extension.serverextension enable $server_level "nbgrader.server_extensions.$ext"
    done
fi
