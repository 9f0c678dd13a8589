#!/bin/sh
# Create nbgrader's exchange folder for the course's JupyterHub (run as root, once).
#
#   hub/setup_exchange.sh [DIR]      (default /srv/nbgrader/exchange)
#
# Every student's server must be able to create its submission there, and nobody may delete or
# rename another user's folder: mode 1777 (world-writable with the sticky bit, as /tmp). The
# instructor's first `python -m autograder exchange release` then creates, owned by the
# instructor, DIR/cnn-architectures/ with outbound/ (755: students read released assignments),
# inbound/ (2733: students write submissions but cannot list the others') and, on the first
# feedback release, feedback/ (711: a student opens only the file whose hashed name they know).
set -eu
dir=${1:-/srv/nbgrader/exchange}
mkdir -p "$dir"
chmod 1777 "$dir"
ls -ld "$dir"
