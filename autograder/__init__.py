"""The instructor's command line around nbgrader: `python -m autograder --help`."""
