"""``python -m course_utils ...``: see ``course_utils.tools.cli``.

The absolute import lets Paddle's launcher run this file as a script too:
``python -m paddle.distributed.launch --nproc_per_node 2 course_utils/__main__.py train``.
"""
import sys

from course_utils.errors import CourseError

try:
    from course_utils.tools.cli import main

    code = main()
except CourseError as error:  # raised while the command line itself was imported, e.g. Paddle missing (paddle_check)
    print(f"error: {error}", file=sys.stderr)
    code = 2
raise SystemExit(code)
