"""``python -m course_utils ...``: see ``course_utils.cli``.

The absolute import lets Paddle's launcher run this file as a script too:
``python -m paddle.distributed.launch --nproc_per_node 2 course_utils/__main__.py train``.
"""
from course_utils.cli import main

raise SystemExit(main())
