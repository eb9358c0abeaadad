"""The class's digit form: print it, let everyone fill it in, photograph it, and read the digits back, MNIST-like.

MNIST itself was cut from forms: NIST's writers filled the boxes of a printed form, the forms were scanned, and the
boxes were cut out. This module does the same with a phone.

**The form** (`save_form`, A4): ten rows of ten boxes, one row per digit 0-9 (the digit printed small and light at the
row's start), a field for the name, and four black corner squares. Three of them are solid, the top-left one has a
white hole: the squares tell the reader where the sheet is, and the odd one tells it which way up. All sizes are in
millimetres on the page (x to the right, y down); `boxes` lists every box's inside edge.

**The reader** (`read_sheet`), step by step:

1. The photo is loaded upright (`imaging.load_image`) and made grey. The corner squares are looked for on a copy of at
   most 1000 pixels: whatever is much darker than the paper around it (a morphological closing gives the paper's
   level and follows a shadow's edge, so the shadow is not mistaken for ink) and forms a solid, compact blob. The blob with a hole is the top-left square, the
   three solid ones follow it clockwise, as on the printed page.
2. The four centres give a projective transform (`skimage.transform.ProjectiveTransform`, a homography) from the
   page's millimetres to the photo's pixels. It undoes tilt, perspective and any of the four orientations at once; a
   check that each square has the size the transform predicts rejects four dark blobs that only happen to be there.
3. The grid is warped out of the full-resolution photo at `PIXELS_PER_MM` (6 pixels per millimetre: sharper than
   the 20 pixels the digit ends up in, and independent of the phone). Each box's frame is looked for near where the
   transform puts it (a sheet that is not quite flat shifts it a little), and the box is cut just inside it, so the
   printed frame stays out.
4. The grid is divided by the paper's brightness around each point (a closing, as in step 1), so that shadows are
   gone. A box with less than a square millimetre of clear ink is empty and skipped.
5. Each other box goes through `imaging.to_mnist`, the very steps that ``predict`` uses for a photo of one digit (told
   that the ink is dark, which the printed form guarantees, instead of guessing it).

OpenCV is not needed: scikit-image's transform and SciPy's labelling do all of this in well under a second for a
12-megapixel photo (``python -m benchmarks --only sheets``), and both are already dependencies.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from skimage.transform import ProjectiveTransform, warp

from .errors import CourseError
from .imaging import load_image, to_mnist

PAGE = (210.0, 297.0)
"""A4 portrait, width and height in millimetres."""
ROWS, COLS = 10, 10
"""Ten rows (the digits 0-9) of ten boxes."""
BOX = (15.0, 17.0)
"""A box's width and height (to the middle of its printed frame), in millimetres."""
GAP = (2.0, 3.0)
"""The space between neighbouring boxes, across and down."""
GRID_ORIGIN = (27.0, 58.0)
"""The top-left corner of the first box (row 0, column 0)."""
FRAME = 0.35
"""The width of a box's printed frame, in millimetres (a light grey line)."""
MARKER = 14.0
"""The side of a corner square..."""
MARKER_HOLE = 7.0
"""...and of the white hole in the top-left one."""
MARKER_CENTRES = ((17.0, 17.0), (193.0, 17.0), (193.0, 280.0), (17.0, 280.0))
"""The corner squares' centres: top-left (the one with the hole), top-right, bottom-right, bottom-left (clockwise)."""
PIXELS_PER_MM = 6.0
"""The resolution at which the boxes are cut out of a photo."""
CUT_MARGIN = 0.8
"""Boxes are cut this many millimetres inside their frame's inside edge, so that no frame line is cut with them."""

_FIND_SIZE = 1000
"""Corner squares are looked for on a copy this many pixels on its longer side."""
_DARK = 0.55
"""A pixel is dark if it has less than this fraction of the paper's brightness around it."""
_HOLED, _SOLID = 0.88, 0.92
"""A blob's ink over its area with holes filled: the top-left square has 0.75 (its hole is a quarter of it), the
others 1. Below `_HOLED` a blob may be the top-left square, from `_SOLID` on one of the others."""
_MOST_SOLIDS = 12
"""Only the largest solid blobs are tried as the three solid squares (12 give 220 trios per holed blob)."""
_MAX_MISFIT = math.log(1.3)
"""Four blobs are the corner squares only if each one's area is within 30% of what the others' positions predict."""
_PAPER_WINDOW = 4.0
"""Millimetres: wider than any pen's stroke; the paper's brightness is estimated over windows this wide."""
_SNAP = 2.0
"""Millimetres: a box's frame is looked for this far either way of where the corner squares put it."""
_MIN_FRAME_DARKNESS = 20.0
"""A frame line must be at least this much darker than the paper (of 255, after `_flatten_light`) to be snapped to."""
_INK_LEVEL = 200
"""A pixel is ink if it has less than this brightness (of 255, paper at 255 after `_flatten_light`)..."""
_MIN_INK_AREA = 1.0
"""...and a box is written in if at least this many square millimetres of it are ink (a stroke of 3 mm by 0.3 mm). On
18 generated sheets of 0.7 and 1 megapixel, written boxes had at least 89 such pixels (at 6 per millimetre), the 117
empty ones none."""
_NOT_FOUND = ("the form's four corner squares were not found: photograph the whole sheet, flat, with all four black "
              "corner squares visible")


@dataclass(frozen=True)
class Box:
    """One box of the form: its ``row`` and ``col``, the digit that belongs in it (``label``, the row's digit) and its
    inside edge ``x0, y0, x1, y1`` in millimetres on the page."""

    row: int
    col: int
    label: int
    x0: float
    y0: float
    x1: float
    y1: float


def boxes() -> list[Box]:
    """Every box of the form, row by row."""
    (width, height), (gap_x, gap_y), (left, top) = BOX, GAP, GRID_ORIGIN
    inside = FRAME / 2
    found = []
    for row in range(ROWS):
        for col in range(COLS):
            x0, y0 = left + col * (width + gap_x), top + row * (height + gap_y)
            found.append(Box(row, col, row, x0 + inside, y0 + inside, x0 + width - inside, y0 + height - inside))
    return found


def draw_form():
    """The form as a matplotlib figure of A4 size whose data coordinates are the page's millimetres."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from . import plots  # noqa: F401  (installs the font for the Chinese text)

    fig = plt.figure(figsize=(PAGE[0] / 25.4, PAGE[1] / 25.4))
    plt.close(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, PAGE[0])
    ax.set_ylim(PAGE[1], 0)
    ax.set_axis_off()
    points = 72 / 25.4  # points per millimetre, for line widths and font sizes
    for i, (x, y) in enumerate(MARKER_CENTRES):
        ax.add_patch(Rectangle((x - MARKER / 2, y - MARKER / 2), MARKER, MARKER, color="black", lw=0))
        if i == 0:
            ax.add_patch(Rectangle((x - MARKER_HOLE / 2, y - MARKER_HOLE / 2), MARKER_HOLE, MARKER_HOLE,
                                   color="white", lw=0))
    ax.text(PAGE[0] / 2, 15, "手写数字采集表 / Handwritten digit form", ha="center", va="center", fontsize=15)
    ax.text(PAGE[0] / 2, 22, "第 7 章 我们自己的手写数字 / Chapter 7: Our own handwriting", ha="center", va="center",
            fontsize=8, color="0.4")
    ax.text(GRID_ORIGIN[0], 36, "姓名 / Name:", va="center", fontsize=11)
    ax.plot([GRID_ORIGIN[0] + 27, GRID_ORIGIN[0] + 110], [38, 38], color="black", lw=0.3 * points)
    ax.text(GRID_ORIGIN[0], 47, "每行只写该行开头的数字，一格一个，写在格子中间，不碰边框。用深色的笔。\n"
            "In each row write only that row's digit, one per box, inside the box. Use a dark pen.",
            va="center", fontsize=7.5, color="0.25", linespacing=1.6)
    for box in boxes():
        inside = FRAME / 2
        ax.add_patch(Rectangle((box.x0 - inside, box.y0 - inside), BOX[0], BOX[1], fill=False,
                               edgecolor="0.55", lw=FRAME * points))
        if box.col == 0:
            ax.text(box.x0 - 3.5, (box.y0 + box.y1) / 2, str(box.label), ha="center", va="center", fontsize=9,
                    color="0.6")
    ax.text(PAGE[0] / 2, 280, "拍照：整张纸平放，四个角的黑色方块都要拍进去\n"
            "Photograph the whole sheet, flat, with all four black corner squares in view",
            ha="center", va="center", fontsize=7.5, color="0.25", linespacing=1.6)
    return fig


def save_form(path: str | os.PathLike, dpi: int = 200) -> dict:
    """Write the form to ``path`` (PDF, or PNG/JPEG at ``dpi``) and return its layout in that image's pixels (see
    `layout`; for a PDF, the layout of a PNG at ``dpi``)."""
    path = Path(path)
    if path.suffix.lower() not in (".pdf", ".png", ".jpg", ".jpeg"):
        raise CourseError(f"cannot write the form as {path.name}: name a .pdf or .png file")
    if not 50 <= dpi <= 1200:
        raise CourseError(f"--dpi must be between 50 and 1200, got {dpi}")
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_form().savefig(path, dpi=dpi, facecolor="white")
    if path.suffix.lower() == ".pdf":
        return layout(dpi)
    with Image.open(path) as image:
        return layout(dpi, image.size)


def layout(dpi: int, size: tuple[int, int] | None = None) -> dict:
    """Where every box is in a PNG of the form at ``dpi``: ``{"image_size": [W, H], "boxes": [{"label", "row",
    "col", "x0", "y0", "x1", "y1"}, ...]}``, pixels with x to the right and y down, each box's inside edge.

    ``size`` is the PNG's actual size (matplotlib rounds the page's size in pixels); default: the rounded size.
    """
    width, height = size or (round(PAGE[0] / 25.4 * dpi), round(PAGE[1] / 25.4 * dpi))
    sx, sy = width / PAGE[0], height / PAGE[1]
    return {
        "image_size": [width, height],
        "boxes": [{"label": b.label, "row": b.row, "col": b.col, "x0": round(b.x0 * sx, 2), "y0": round(b.y0 * sy, 2),
                   "x1": round(b.x1 * sx, 2), "y1": round(b.y1 * sy, 2)} for b in boxes()],
    }


@dataclass(frozen=True)
class SheetReading:
    """What `read_sheet` found on one photo: the ``images`` (uint8 ``[N, 28, 28]``) of the written boxes with their
    ``rows`` and ``cols``; ``markers``, the corner squares' centres in the photo (top-left, top-right, bottom-right,
    bottom-left of the page), and ``turned``, how far the page is turned in the photo (0, 90, 180 or 270 degrees,
    clockwise, to the nearest quarter)."""

    source: str
    images: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    markers: np.ndarray
    turned: int

    @property
    def labels(self) -> np.ndarray:
        """The digit each box should hold: its row's."""
        return self.rows.copy()

    def __len__(self) -> int:
        return len(self.images)


def read_sheet(photo: str | os.PathLike | Image.Image, source: str | None = None) -> SheetReading:
    """Read every written box of a photographed form (the steps of the module docstring).

    ``photo`` is an image file or a Pillow image; ``source`` names it in messages (default: the file's name). Raises
    `CourseError` with one line that names the photo when the corner squares cannot be found.
    """
    if source is None:
        source = Path(photo).name if not isinstance(photo, Image.Image) else "photo"
    image = photo if isinstance(photo, Image.Image) else load_image(photo)
    grey = np.asarray(image.convert("L"))
    try:
        markers = find_markers(grey)
    except CourseError as error:
        raise CourseError(f"{source}: {error}") from None
    to_photo = page_to_photo(markers)
    grid = _flatten_light(_warp_grid(grey, to_photo))
    images, rows, cols = [], [], []
    for box in boxes():
        cut = _cut(grid, box)
        if not _has_ink(cut):
            continue
        try:
            images.append(to_mnist(cut, dark_ink=True))
        except CourseError:  # nothing that to_mnist takes for a digit
            continue
        rows.append(box.row)
        cols.append(box.col)
    top_edge = markers[1] - markers[0]
    turned = int(round(math.degrees(math.atan2(top_edge[1], top_edge[0])) / 90) % 4 * 90)
    return SheetReading(source, np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28),
                        np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), markers, turned)


def find_markers(grey: np.ndarray) -> np.ndarray:
    """The centres ``[4, 2]`` (x, y in pixels of ``grey``) of the form's corner squares: top-left, top-right,
    bottom-right, bottom-left of the page, wherever they are in the photo. Raises `CourseError` if they are not all
    there."""
    scale = min(1.0, _FIND_SIZE / max(grey.shape))
    small = Image.fromarray(grey)
    if scale < 1.0:
        small = small.resize((round(grey.shape[1] * scale), round(grey.shape[0] * scale)), Image.Resampling.BOX)
    values = np.asarray(small, dtype=np.float32)
    # The paper's level: a closing (a maximum, then a minimum filter) over a window wider than a corner square fills
    # the squares and the writing with the paper around them, but keeps a shadow's sharp edge and the table's edge.
    window = max(15, round(max(values.shape) / 12)) | 1
    paper = ndimage.grey_closing(values, size=window)
    dark = values < _DARK * paper
    labels, count = ndimage.label(dark)
    if count == 0:
        raise CourseError(_NOT_FOUND)
    min_area = (max(values.shape) / 150) ** 2
    candidates = _square_blobs(labels, count, min_area)
    holes = [blob for blob in candidates if blob[2] < _HOLED]
    solids = sorted((blob for blob in candidates if blob[2] >= _SOLID), key=lambda blob: -blob[1])[:_MOST_SOLIDS]
    best, best_misfit = None, _MAX_MISFIT
    for hole in holes:
        for trio in combinations(solids, 3):
            four = [hole, *trio]
            order = _clockwise_from_first(np.array([blob[0] for blob in four]))
            if order is None:
                continue
            centres = np.array([four[i][0] for i in order])
            misfit = _size_misfit(centres, [four[i][1] for i in order])
            if misfit < best_misfit:
                best, best_misfit = centres, misfit
    if best is None:
        raise CourseError(_NOT_FOUND)
    return best / scale


def page_to_photo(markers: np.ndarray) -> ProjectiveTransform:
    """The projective transform from the page's millimetres to the photo's pixels, given the corner squares'
    centres in the photo (`find_markers`)."""
    transform = homography(np.array(MARKER_CENTRES), np.asarray(markers, dtype=np.float64))
    if transform is None:
        raise CourseError(_NOT_FOUND)
    return transform


def homography(source: np.ndarray, target: np.ndarray) -> ProjectiveTransform | None:
    """The projective transform that takes the four points ``source`` ``[4, 2]`` to ``target``, or None when three
    of them lie on a line. (Solved directly: the eight unknowns of the 3x3 matrix, its last entry fixed to 1.)"""
    equations, values = [], []
    for (x, y), (u, v) in zip(source, target):
        equations.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        equations.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values.extend([u, v])
    try:
        solution = np.linalg.solve(np.array(equations, dtype=np.float64), np.array(values, dtype=np.float64))
    except np.linalg.LinAlgError:
        return None
    return ProjectiveTransform(np.append(solution, 1.0).reshape(3, 3))


def _square_blobs(labels: np.ndarray, count: int, min_area: float) -> list[tuple[np.ndarray, float, float]]:
    """The dark blobs that could be corner squares: ``(centre (x, y), filled area, area / filled area)``.

    A corner square is solid and compact once its hole (if any) is filled: it covers most of its convex hull, and it
    is not long and thin (tilted and seen at an angle, it is still no more than about twice as long as wide).
    """
    from skimage.measure import regionprops

    sizes = ndimage.sum_labels(np.ones(labels.shape), labels, np.arange(1, count + 1))
    found = []
    for number, where in enumerate(ndimage.find_objects(labels), start=1):
        rows, cols = where[0].stop - where[0].start, where[1].stop - where[1].start
        if sizes[number - 1] < min_area / 2 or rows * cols < min_area:
            continue
        mine = labels[where] == number
        solid = ndimage.binary_fill_holes(mine)
        filled = int(solid.sum())
        if filled < min_area or max(rows, cols) > 3 * min(rows, cols) or rows * cols > 6 * filled:
            continue
        shape = regionprops(solid.astype(np.uint8))[0]
        if shape.solidity < 0.88 or shape.axis_minor_length < 0.4 * shape.axis_major_length:
            continue
        y, x = shape.centroid
        found.append((np.array([x + where[1].start, y + where[0].start]), float(filled), sizes[number - 1] / filled))
    return found


def _clockwise_from_first(points: np.ndarray) -> list[int] | None:
    """The order of the four points clockwise as seen in the picture (y down), starting from the first one; None
    unless they form a convex quadrilateral."""
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    order = [int(i) for i in np.argsort(angles)]
    start = order.index(0)
    order = order[start:] + order[:start]
    edges = np.roll(points[order], -1, axis=0) - points[order]
    following = np.roll(edges, -1, axis=0)
    turns = edges[:, 0] * following[:, 1] - edges[:, 1] * following[:, 0]
    return order if np.all(turns > 0) else None


def _size_misfit(centres: np.ndarray, areas: list[float]) -> float:
    """How far the blobs' areas are from those that corner squares would have there, by the transform the four
    centres give: the largest ``|log(area / expected)|``. A sheet's squares fit within a few percent; four unrelated
    dark blobs, or three squares and a blob, rarely do."""
    transform = homography(np.array(MARKER_CENTRES), centres)
    if transform is None:
        return math.inf
    half = MARKER / 2
    worst = 0.0
    for (x, y), area in zip(MARKER_CENTRES, areas):
        corners = transform(np.array([[x - half, y - half], [x + half, y - half], [x + half, y + half],
                                      [x - half, y + half]]))
        worst = max(worst, abs(math.log(area / max(_polygon_area(corners), 1e-9))))
    return worst


def _polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(abs(x @ np.roll(y, -1) - y @ np.roll(x, -1)) / 2)


def _grid_frame() -> tuple[float, float, int, int]:
    """The page area that `_warp_grid` warps: its top-left corner in millimetres and its size in pixels."""
    every = boxes()
    left, top = every[0].x0 - 1, every[0].y0 - 1
    width = (every[-1].x1 + 1 - left) * PIXELS_PER_MM
    height = (every[-1].y1 + 1 - top) * PIXELS_PER_MM
    return left, top, int(math.ceil(width)), int(math.ceil(height))


def _warp_grid(grey: np.ndarray, to_photo: ProjectiveTransform) -> np.ndarray:
    """The grid of boxes as a straight, upright grey image at `PIXELS_PER_MM`, cut out of the full-resolution photo.

    Only the part of the photo under the grid is converted to float and sampled (bilinear), which keeps a 12-megapixel
    photo fast.
    """
    left, top, width, height = _grid_frame()
    # output pixel (column, row) -> page millimetres -> photo pixels
    pixels_to_page = np.array([[1 / PIXELS_PER_MM, 0, left], [0, 1 / PIXELS_PER_MM, top], [0, 0, 1]])
    to_source = to_photo.params @ pixels_to_page
    corners = ProjectiveTransform(to_source)(np.array([[0, 0], [width, 0], [width, height], [0, height]]))
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 2, 0, None)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 3
    crop = grey[y0:y1, x0:x1].astype(np.float32)
    if crop.size == 0:
        raise CourseError(_NOT_FOUND)
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]])
    grid = warp(crop, ProjectiveTransform(shift @ to_source), output_shape=(height, width), order=1, cval=255.0,
                preserve_range=True)
    # A photo with fewer pixels per millimetre than the grid is enlarged; bilinear enlargement makes a hairline stroke
    # brighter and fainter in turn along its length (where it falls on a photo pixel or between two), which the
    # threshold would cut into dots. Smoothing over one photo pixel evens that out.
    # (A sharper photo still gets half a grid pixel, which takes the edge off its noise.)
    return ndimage.gaussian_filter(grid, 0.5 * max(1.0, PIXELS_PER_MM / _photo_resolution(to_photo)))


def _photo_resolution(to_photo: ProjectiveTransform) -> float:
    """The photo's pixels per millimetre of the page, over the grid (the mean of its sides' lengths)."""
    every = boxes()
    corners = np.array([[every[0].x0, every[0].y0], [every[-1].x1, every[0].y0], [every[-1].x1, every[-1].y1],
                        [every[0].x0, every[-1].y1]])
    in_photo = to_photo(corners)
    sides = np.linalg.norm(np.roll(in_photo, -1, axis=0) - in_photo, axis=1)
    return float(sides.sum() / (2 * (corners[1, 0] - corners[0, 0]) + 2 * (corners[2, 1] - corners[1, 1])))


def _flatten_light(grid: np.ndarray) -> np.ndarray:
    """The warped grid divided by the paper's brightness around each pixel, so that shadows and uneven light are gone
    and ink has the same contrast everywhere (0-255, paper at 255). The paper's level is a closing over a window wider
    than any pen stroke (`_PAPER_WINDOW`), which follows a shadow's sharp edge."""
    window = round(_PAPER_WINDOW * PIXELS_PER_MM) | 1
    paper = ndimage.grey_closing(grid, size=window)
    return np.clip(255.0 * grid / np.maximum(paper, 1.0), 0.0, 255.0)


def _cut(grid: np.ndarray, box: Box) -> np.ndarray:
    """One box's inside from the warped grid: the frame is looked for within `_SNAP` millimetres of where the corner
    squares put it (a sheet that is not quite flat, or corners found a pixel off, shift it a little), and the box is
    cut `CUT_MARGIN` inside it."""
    left, top, _, _ = _grid_frame()
    scale, snap = PIXELS_PER_MM, round(_SNAP * PIXELS_PER_MM)
    x0, x1 = ((x - left) * scale for x in (box.x0, box.x1))
    y0, y1 = ((y - top) * scale for y in (box.y0, box.y1))
    # The box and ``snap`` pixels around it, as darkness; profiles across its middle, away from the corners.
    top_row, left_col = max(0, round(y0) - 2 * snap), max(0, round(x0) - 2 * snap)
    ink = 255.0 - grid[top_row : round(y1) + 2 * snap, left_col : round(x1) + 2 * snap]
    x0, x1, y0, y1 = x0 - left_col, x1 - left_col, y0 - top_row, y1 - top_row
    across = np.median(ink[round(y0 + snap) : round(y1 - snap)], axis=0)
    down = np.median(ink[:, round(x0 + snap) : round(x1 - snap)], axis=1)
    dx, dy = _frame_shift(across, x0, x1, snap), _frame_shift(down, y0, y1, snap)
    x0, x1, y0, y1 = x0 + dx, x1 + dx, y0 + dy, y1 + dy
    margin = CUT_MARGIN * scale
    inside = (255.0 - ink)[round(y0 + margin) : round(y1 - margin), round(x0 + margin) : round(x1 - margin)]
    return inside.astype(np.uint8)


def _has_ink(cut: np.ndarray) -> bool:
    """Whether a box holds writing: at least `_MIN_INK_AREA` square millimetres clearly darker than the paper
    (`_INK_LEVEL`), away from the cut's edge, where a sliver of the frame may remain. ``to_mnist`` alone would take such
    a sliver for a faint "1": it measures ink against the paper's noise, and the flattened paper of a form has
    almost none."""
    edge = round(0.5 * PIXELS_PER_MM)
    inside = cut[edge:-edge, edge:-edge]
    return int(np.count_nonzero(inside < _INK_LEVEL)) >= _MIN_INK_AREA * PIXELS_PER_MM**2


def _frame_shift(profile: np.ndarray, start: float, stop: float, snap: int) -> int:
    """How many pixels (at most ``snap`` either way) a box's two opposite frame lines lie from where they were
    expected, along one axis: the shift that puts both lines (half a line width outside the inside edges ``start``
    and ``stop``) on the darkest places of ``profile``, the median darkness across the box. Both lines move together,
    so the neighbouring box's frame, one gap away, is not taken for this one's. Without a clear frame (a faint print)
    the expected place stays."""
    half = FRAME / 2 * PIXELS_PER_MM
    lines = np.array([round(start - half), round(stop + half)])
    shifts = [shift for shift in range(-snap, snap + 1) if lines[0] + shift >= 0 and lines[1] + shift < len(profile)]
    if not shifts:
        return 0
    darkness = [min(profile[lines[0] + shift], profile[lines[1] + shift]) for shift in shifts]
    best = int(np.argmax(darkness))
    return shifts[best] if darkness[best] >= _MIN_FRAME_DARKNESS else 0


def _font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """The font for `preview`'s text and whether it has Chinese: the CJK font the course's figures use
    (`plots.CJK_FONT`) when one is installed, else Pillow's own (Latin only)."""
    from matplotlib import font_manager

    from .plots import CJK_FONT

    if CJK_FONT is not None:
        try:
            return ImageFont.truetype(font_manager.findfont(CJK_FONT, fallback_to_default=False), size), True
        except (OSError, ValueError):
            pass
    return ImageFont.load_default(size=size), False


def preview(reading: SheetReading, predicted: np.ndarray | None = None) -> Image.Image:
    """A contact sheet of one reading: the form's grid, each written box as the model sees it (28x28, enlarged),
    with the model's reading (``predicted``, one digit per image) under it and a red frame where it differs from the
    row's digit. Empty boxes stay dark grey."""
    cell, pad, head, label = 84, 6, 34, 24
    width = label + COLS * (cell + pad) + pad
    height = head + ROWS * (cell + 18 + pad) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    font, chinese = _font(14)
    wrong = 0 if predicted is None else int(np.sum(np.asarray(predicted) != reading.labels))
    if chinese:
        title = f"{reading.source}：{len(reading)} 个数字 (digits)"
        if predicted is not None:
            title += f"，{wrong} 个的读数与所在的行不同 (红框 / red)"
    else:
        title = f"{reading.source}: {len(reading)} digits"
        if predicted is not None:
            title += f", {wrong} read as another digit than the row's (red)"
    draw.text((pad, 8), title, fill="black", font=font)
    for row in range(ROWS):
        top = head + row * (cell + 18 + pad)
        draw.text((4, top + cell // 2 - 8), str(row), fill=(150, 150, 150), font=font)
        for col in range(COLS):
            left = label + pad + col * (cell + pad)
            draw.rectangle([left, top, left + cell - 1, top + cell - 1], fill=(60, 60, 60))
    for i, (row, col) in enumerate(zip(reading.rows, reading.cols)):
        top = head + int(row) * (cell + 18 + pad)
        left = label + pad + int(col) * (cell + pad)
        sheet.paste(Image.fromarray(reading.images[i]).resize((cell, cell), Image.Resampling.NEAREST), (left, top))
        if predicted is not None:
            digit = int(predicted[i])
            colour = (220, 0, 0) if digit != row else (0, 0, 0)
            if digit != row:
                draw.rectangle([left - 3, top - 3, left + cell + 2, top + cell + 2], outline=colour, width=3)
            draw.text((left + cell // 2 - 4, top + cell + 1), str(digit), fill=colour, font=font)
    return sheet
