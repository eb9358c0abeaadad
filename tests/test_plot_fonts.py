"""Chinese text in matplotlib figures: drawn with the CJK fallback font, without boxes or "Glyph missing" warnings."""
from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_utils import plots  # noqa: E402

LABEL = "手写数字识别 / digits 0-9"


def render(family: list[str] | None = None) -> list[str]:
    """Draw a figure titled with Chinese text and return the warnings matplotlib gave."""
    with plt.rc_context({"font.family": family} if family else {}), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plt.figure(figsize=(3, 2))
        fig.suptitle(LABEL)
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    return [str(warning.message) for warning in caught]


@pytest.mark.skipif(plots.CJK_FONT is None, reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
def test_chinese_labels_use_the_cjk_fallback():
    assert plt.rcParams["font.family"][-1] == plots.CJK_FONT
    assert plt.rcParams["font.family"][0] != plots.CJK_FONT  # Latin text keeps the default font
    assert not [message for message in render() if "missing from font" in message]


def test_without_the_fallback_chinese_glyphs_would_be_missing():
    """The check above can fail: matplotlib's default font alone has no Chinese glyphs and says so."""
    assert any("missing from font" in message for message in render(["DejaVu Sans"]))
