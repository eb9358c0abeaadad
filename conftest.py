"""Test-session set-up shared by the unit tests and the nbval notebook runs.

Notebook kernels inherit these environment variables, so setting them here puts every notebook in fast mode and
points it at the same MNIST files as the unit tests.
"""
import os
from pathlib import Path

os.environ.setdefault("COURSE_FAST", "1")
_shared_mnist = Path(__file__).resolve().parent.parent / "shared" / "mnist"
if "COURSE_DATA_DIR" not in os.environ and _shared_mnist.is_dir():
    os.environ["COURSE_DATA_DIR"] = str(_shared_mnist)


# ---------------------------------------------------------------------------------------------------------------------
# nbval: how `pytest` checks the solution notebooks in notebooks/ (notebook tooling; see course_utils/tools/notebook_build.py)
# ---------------------------------------------------------------------------------------------------------------------
# Student notebooks are generated, have no outputs and stop at every exercise: nbval must not collect them (the tests
# run them with course_utils.tools.notebook_build.run_student_notebook instead). JupyterLab's autosave copies neither.
collect_ignore = ["student"]
collect_ignore_glob = ["*.ipynb_checkpoints"]

# Notebook kernels inherit this environment. A non-interactive MPLBACKEND (.ci/run exports Agg) makes plt.show()
# display nothing, while the stored outputs hold the figures: let ipykernel choose its inline backend. Tests in this
# process are unaffected, since matplotlib picks Agg by itself where there is no display.
os.environ.pop("MPLBACKEND", None)


def pytest_collectstart(collector):
    """Compare every notebook cell's outputs except stderr.

    stderr carries diagnostics, not results: Paddle's import warning (absent where ccache is installed), deprecation
    warnings that come and go with library versions, tqdm's bars, logging. Whether it appears at all depends on the
    machine, which no sanitizer can fix, so nbval would fail on environmental noise. Results a cell shows (print,
    return values, figures' text) are still compared in every cell; a cell whose results vary is tagged
    `nbval-ignore-output`, and volatile fragments are sanitized by tests/nbval_sanitize.cfg.
    """
    if collector.path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare += ("stderr",)
