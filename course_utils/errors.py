"""The one exception type for problems a student can fix (a missing file, a corrupt download, a wrong checkpoint).

The command line prints such errors as one line without a traceback; everything else is a bug and keeps its traceback.
"""


class CourseError(Exception):
    """A user-facing error: the message says what went wrong and what to do about it."""
