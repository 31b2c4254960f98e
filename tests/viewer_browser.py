"""What the browser tests of the viewer share: a real `cldata view` server and a real Chromium.

`served(path)` runs ``cldata view PATH --port 0`` in a subprocess (as a user would) and yields
the address it prints; `browser()` launches Debian's installed Chromium through Playwright's
Python package (``executable_path``: no browser is downloaded). `bokeh_state(page)` reads what
the page's Bokeh documents hold (each glyph's row count, the plots' titles): the data that
reached the browser over the websocket. `ink(page, box, rgb)` counts the pixels of one colour
in a region of a screenshot: the canvas is not empty.

Where no Chromium or no Playwright is installed, `need_browser()` skips with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

# every glyph renderer of every Bokeh document of the page: its glyph's type and row count; and the titles
STATE_JS = """() => {
  const glyphs = [], titles = [];
  for (const doc of Bokeh.documents) {
    for (const m of doc._all_models.values()) {
      const kind = m.constructor.__name__;
      if (kind === 'GlyphRenderer') {
        const data = m.data_source.data, keys = Object.keys(data);
        const first = keys.length ? data[keys[0]] : [];
        const inner = first.length && first[0] && first[0].length !== undefined ? first[0].length : null;
        glyphs.push([m.glyph.constructor.__name__, first.length ?? 0, keys, inner]);
      } else if (kind === 'Title' && m.text) {
        titles.push(m.text);
      }
    }
  }
  return {glyphs, titles};
}"""


def chromium_path() -> str | None:
    """The installed Chromium (Debian's package), or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def need_browser() -> str:
    """Chromium's path; skips the test (saying why) where there is no Chromium or no Playwright."""
    pytest.importorskip("panel", reason="panel is in the view extra: pip install '.[view]'")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is in the test extra: pip install '.[test]'")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the browser tests drive the installed one")
    return path


@contextlib.contextmanager
def served(path: Path, *extra: str, timeout: float = 90.0) -> Iterator[str]:
    """``cldata view PATH --port 0`` in a subprocess; yields the address it printed, stops it after."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "cldata.app.cli", "view", str(path), "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"cldata view ended before serving: {''.join(lines)}")
            lines.append(line)
            if "http://" in line:
                url = line[line.index("http://"):].split()[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"cldata view printed no address in {timeout} s: {''.join(lines)}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def browser(width: int = 1500, height: int = 1200) -> Iterator[Any]:
    """A page of a headless Chromium (the installed one), closed after."""
    from playwright.sync_api import sync_playwright

    executable = need_browser()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(viewport={"width": width, "height": height})
            page.problems = []  # the page's errors and warnings, shown when a check fails
            page.on("console", lambda m: page.problems.append(f"{m.type}: {m.text[:300]}")
                    if m.type in ("error", "warning") and "GL Driver" not in m.text else None)
            page.on("pageerror", lambda e: page.problems.append(f"page error: {str(e)[:500]}"))
            page.on("requestfailed", lambda r: page.problems.append(f"request failed: {r.url[:200]}"))
            yield page
        finally:
            chromium.close()


def open_view(page: Any, url: str, *, title_part: str, timeout: float = 60.0) -> dict[str, Any]:
    """Load the viewer; wait until a Bokeh document shows a title containing ``title_part``."""
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=timeout * 1000)
    return wait_for_state(page, lambda s: any(title_part in t for t in s["titles"]), timeout=timeout)


def bokeh_state(page: Any) -> dict[str, Any]:
    """``{"glyphs": [[glyph type, rows, columns, points of the first row], ...], "titles": [...]}`` of the
    page's Bokeh documents (points of the first row: for a MultiLine, its first line's length; else None)."""
    return page.evaluate(STATE_JS)


def wait_for_state(page: Any, ok: Any, *, timeout: float = 30.0) -> dict[str, Any]:
    """Poll :func:`bokeh_state` until ``ok(state)``; fails with the last state after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        state = bokeh_state(page)
        if ok(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never reached the expected state; last: {state}; "
                                 f"the page said: {page.problems}")
        page.wait_for_timeout(250)


def eventually(page: Any, probe: Any, ok: Any, *, timeout: float = 30.0) -> Any:
    """Call ``probe()`` every 250 ms until ``ok(value)``; return the value (fails with it after ``timeout`` s).

    Bokeh lays out and paints after the data arrived: the pixels are checked until they are drawn.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached: last value {value!r}; the page said: {page.problems}")
        page.wait_for_timeout(250)


def rows_of(state: dict[str, Any], glyph: str, column: str | None = None) -> list[int]:
    """Row counts of the glyphs of one type (with a column named ``column``, if given)."""
    return [n for kind, n, cols, _ in state["glyphs"] if kind == glyph and (column is None or column in cols)]


def canvas_boxes(page: Any) -> list[dict[str, float]]:
    """The bounding boxes of the page's canvases (Playwright's locators see into shadow roots)."""
    boxes = []
    for i in range(page.locator("canvas").count()):
        box = page.locator("canvas").nth(i).bounding_box()
        if box and box["width"] > 50 and box["height"] > 50:
            boxes.append(box)
    return boxes


def ink(page: Any, box: dict[str, float], rgb: tuple[int, int, int], tolerance: float = 25.0) -> int:
    """Pixels of colour ``rgb`` over white in the screenshot of ``box``: the canvas is drawn on.

    Thin antialiased lines blend their colour with the white background, so a pixel counts when
    it lies on the way from white to ``rgb`` (at least 15 % of it), within ``tolerance``.
    """
    from io import BytesIO

    from PIL import Image  # why: Pillow comes with matplotlib (test extra), only these tests need it

    png = page.screenshot(clip=box)
    away = 255.0 - np.asarray(Image.open(BytesIO(png)).convert("RGB"), dtype=np.float64)
    ink_dir = 255.0 - np.asarray(rgb, dtype=np.float64)
    share = away @ ink_dir / (ink_dir @ ink_dir)
    residual = np.linalg.norm(away - share[..., None] * ink_dir, axis=2)
    return int(((share > 0.15) & (residual < tolerance)).sum())
