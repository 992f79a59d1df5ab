"""Print maps render with Chinese text: the PDF is rendered to an image (pypdfium2) and its
text read back; PNG and PDF are not blank and have dark pixels in the title band."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image
from sqlalchemy import Engine

from gridmap.io.export import ExportRequest
from gridmap.io.printmap import PrintMapError, cjk_font, render_print_map
from gridmap.settings import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
TITLE = "双塘街道网格与服务站点覆盖图"


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def _check_page(grey: np.ndarray, *, portrait: bool) -> None:
    """Not blank, and the title band (top left) holds dark text pixels."""
    assert grey.std() > 20, "the page is (nearly) blank"
    h, w = grey.shape
    assert (w < h) == portrait
    title_band = grey[int(0.02 * h) : int(0.08 * h), int(0.02 * w) : int(0.5 * w)]
    assert (title_band < 90).sum() > 200, "no dark title text in the title band"
    map_area = grey[int(0.3 * h) : int(0.7 * h), int(0.1 * w) : int(0.6 * w)]
    assert len(np.unique(map_area.round())) > 20, "the map area has no drawing"


def test_cjk_font_comes_from_the_system() -> None:
    assert cjk_font() == "Noto Sans CJK SC"


def test_pdf_a3_portrait_renders_chinese_text(demo_engine: Engine, tmp_path: Path) -> None:
    request = ExportRequest(
        ("grids", "service_points", "cases"), "pdf", paper="A3", orientation="portrait",
        title=TITLE, filters={"statuses": ["reported", "returned"]},
    )  # fmt: skip
    target = tmp_path / "map.pdf"
    result = render_print_map(demo_engine, request, target)
    assert result.counts["grids"] > 0 and result.counts["service_points"] > 0
    assert result.crs.startswith("WGS 84 / UTM zone")
    pdf = pdfium.PdfDocument(target)
    page = pdf[0]
    width_mm, height_mm = (v / 72 * 25.4 for v in page.get_size())
    assert (round(width_mm), round(height_mm)) == (297, 420)  # A3 portrait
    text = page.get_textpage().get_text_range()
    for expected in (TITLE, "图例", "网格", "服务站点", "北", "制图日期", "数据来源", "坐标系"):
        assert expected in text, expected
    image = page.render(scale=1.0).to_pil()
    _check_page(_grey(image), portrait=True)
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / "printmap-a3-portrait-from-pdf.png")


def test_png_a4_landscape_in_english(demo_engine: Engine, tmp_path: Path) -> None:
    request = ExportRequest(("grids", "cameras"), "png", language="en")
    target = tmp_path / "map.png"
    render_print_map(demo_engine, request, target)
    image = Image.open(target)
    w, h = image.size
    assert abs(w / h - 297 / 210) < 0.01
    _check_page(_grey(image), portrait=False)


def test_png_zh_example_for_the_readme(demo_engine: Engine, tmp_path: Path) -> None:
    request = ExportRequest(("grids", "service_points", "cameras"), "png", title=TITLE)
    target = tmp_path / "map.png"
    render_print_map(demo_engine, request, target)
    image = Image.open(target)
    _check_page(_grey(image), portrait=False)
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / "printmap-zh.png")


def test_view_box_limits_the_map(demo_engine: Engine, tmp_path: Path) -> None:
    box = (118.77, 32.03, 118.79, 32.05)
    request = ExportRequest(("buildings",), "png", bbox=box)
    result = render_print_map(demo_engine, request, tmp_path / "box.png")
    minx, miny, maxx, maxy = result.extent
    assert minx < box[0] < box[2] < maxx and miny < box[1] < box[3] < maxy
    assert maxx - minx < (box[2] - box[0]) * 1.1  # the box plus a small margin


def test_nothing_to_draw_is_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(PrintMapError, match="nothing to draw"):
        render_print_map(engine, ExportRequest(("grids",), "pdf"), tmp_path / "x.pdf")
    assert not list(tmp_path.iterdir())


def test_print_is_dated_in_the_case_time_zone_without_zoom_words(
    demo_engine: Engine, tmp_path: Path
) -> None:
    """02:07 UTC prints (and names the file) 10:07 Shanghai time; the legend names the
    grids and their outlines but not the screen's zoomed-out marks."""
    at = datetime(2026, 12, 6, 2, 7, tzinfo=UTC)
    request = ExportRequest(("grids", "cameras"), "pdf", title=TITLE)
    assert request.file_name(at) == "gridmap_grids+cameras_20261206-1007.pdf"
    assert request.file_name(at.replace(tzinfo=None)) == "gridmap_grids+cameras_20261206-1007.pdf"
    target = tmp_path / "map.pdf"
    render_print_map(demo_engine, request, target, at=at)
    page = pdfium.PdfDocument(target)[0]
    text = page.get_textpage().get_text_range()
    ARTIFACTS.mkdir(exist_ok=True)
    page.render(scale=1.0).to_pil().save(ARTIFACTS / "polish-print-legend.png")
    assert "制图日期：2026-12-06 10:07" in text
    for label in ("网格（颜色区分社区）", "网格边界", "在线"):
        assert label in text, label
    for label in ("社区边界", "缩小时", "摄像头汇总"):
        assert label not in text, label
