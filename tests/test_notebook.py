"""The quickstart notebook, run by a Jupyter kernel; its inline viewer
rendered in Chromium."""

import html
import importlib.util
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from keras_gates import viewer
from tests.test_viewer import Page, expected_colour, rgb

NOTEBOOKS = Path(__file__).parent.parent / "docs" / "notebooks"


def _maker():
    spec = importlib.util.spec_from_file_location(
        "make_quickstart", NOTEBOOKS / "make_quickstart.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs(notebook, kind):
    return [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if kind in output.get("data", {})
    ]


def test_the_committed_notebook_is_the_maker_s_and_keeps_its_outputs():
    nbformat = pytest.importorskip("nbformat")
    committed = nbformat.read(NOTEBOOKS / "quickstart.ipynb", 4)
    sources = [(c.cell_type, c.source) for c in committed.cells]
    assert sources == _maker().CELLS
    assert len(_outputs(committed, "image/png")) == 1
    assert len(_outputs(committed, "text/html")) == 1


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    pytest.importorskip("nbclient")
    maker = _maker()
    return maker.run(maker.build(), tmp_path_factory.mktemp("notebook"))


def test_the_notebook_trains_and_reads_the_gates(executed):
    text = "".join(
        output.get("text", "")
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    accuracy = float(re.search(r"validation accuracy: ([\d.]+)", text)[1])
    assert accuracy >= 0.9
    assert "'forget': (4, 14, 8)" in text
    assert not [
        o
        for cell in executed.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if o.output_type == "error" or o.get("name") == "stderr"
    ]


def test_the_notebook_s_viewer_renders_and_a_unit_can_be_picked(
    executed, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    (output,) = _outputs(executed, "text/html")
    frame_html = output["data"]["text/html"]
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><html><body>{frame_html}</body></html>")
    page_html = html.unescape(re.search(r'srcdoc="(.*?)"', frame_html, re.S)[1])
    data = json.loads(
        re.search(r"type='application/json'>(.*?)</script>", page_html, re.S)[
            1
        ].replace("<\\/", "</")
    )
    assert data["gates"][-1] == "left in the last cell state"
    browser.get(host.as_uri())
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return !!window.gateViewer")
    )
    page = Page.__new__(Page)
    page.driver = browser
    page.unit(3)
    codes = np.frombuffer(
        __import__("base64").b64decode(data["sequences"][0]["codes"]["cell"]),
        "uint8",
    ).reshape(data["time"], data["units"])
    expected = [
        expected_colour("signed", c / viewer.LEVELS) for c in codes[:, 3]
    ]
    assert [rgb(c) for c in page.colours()] == expected
    assert len(set(expected)) > 5
    browser.switch_to.default_content()
    page.errors()
    from matplotlib.image import imread

    shot = imread(io.BytesIO(browser.get_screenshot_as_png()), format="png")
    colours = np.unique(shot.reshape(-1, shot.shape[-1])[:, :3], axis=0)
    assert len(colours) > 50
