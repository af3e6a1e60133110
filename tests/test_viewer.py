"""The gate viewer: the file it writes, and the page in a real browser.

The browser tests drive Debian's headless Chromium through Selenium. They
skip where no browser is installed, except under CI=true, where a missing
browser is a failure (.ci/run installs it).
"""

import json
import re

import numpy as np
import pytest

from keras_gates import viewer

TIME, UNITS = 40, 12
PLANTED_UNIT, SPAN = 7, (10, 14)
LSTM_NAMES = ("input", "forget", "candidate", "output", "cell", "hidden")


def planted_gates(rng, batch=2, time=TIME, units=UNITS):
    """LSTM-like gates where every value differs; the cell state's unit 7
    is high inside steps 10..14 of sequence 0 and low elsewhere, the other
    units are noise in between."""
    gates = {}
    for name in LSTM_NAMES:
        low = 0.0 if name in ("input", "forget", "output") else -1.0
        gates[name] = rng.uniform(low, 1.0, (batch, time, units))
    cell = gates["cell"] = rng.uniform(-0.4, 0.4, (batch, time, units))
    cell[0, :, PLANTED_UNIT] = -0.8
    cell[0, SPAN[0] : SPAN[1] + 1, PLANTED_UNIT] = 0.85
    cell[0, 5, 3] = 1.7  # widens the cell's range beyond [-1, 1]
    return {k: v.astype("float32") for k, v in gates.items()}


def words(time=TIME, offset=0):
    return [f"w{(i + offset) % 97}" for i in range(time)]


# -- the file ---------------------------------------------------------------


def test_codes_cover_the_range_and_mark_masked_steps():
    codes = viewer.quantize(np.array([0.0, 0.5, 1.0, np.nan, 2.0]), 0.0, 1.0)
    assert codes.tolist() == [0, 127, 254, 255, 254]
    values = viewer.dequantize(codes, 0.0, 1.0)
    np.testing.assert_allclose(values[:3], [0.0, 127 / 254, 1.0])
    assert np.isnan(values[3])


def test_ranges_are_fixed_for_gates_and_symmetric_per_unit_otherwise(rng):
    gates = planted_gates(rng)
    low, high = viewer.value_range("forget", gates["forget"])
    assert low.tolist() == [0.0] * UNITS and high.tolist() == [1.0] * UNITS
    low, high = viewer.value_range("cell", gates["cell"])
    assert high[3] == pytest.approx(1.7) and high[PLANTED_UNIT] == (
        pytest.approx(0.85)
    )
    expected = np.abs(gates["cell"]).max(axis=(0, 1))
    np.testing.assert_allclose(high, expected, rtol=1e-6)
    np.testing.assert_array_equal(low, -high)
    low, high = viewer.value_range("input", np.array([[0.2, 0.1], [1.5, -3]]))
    assert low.tolist() == [-1.5, -3.0] and high.tolist() == [1.5, 3.0]
    masked = np.array([[np.nan, 0.5], [np.nan, -0.25]])
    assert viewer.value_range("cell", masked)[1].tolist() == [1.0, 0.5]


def test_quantization_error_is_at_most_half_a_level(rng):
    values = rng.uniform(-3, 3, (1000, 10)) * np.arange(1, 11)
    low, high = viewer.value_range("hidden", values)
    back = viewer.dequantize(viewer.quantize(values, low, high), low, high)
    assert np.all(np.abs(back - values) <= (high - low) / 508 + 1e-12)


def test_the_page_is_one_file_with_nothing_to_fetch(rng, tmp_path):
    path = viewer.write_html(
        planted_gates(rng), [words(), words(offset=1)], tmp_path / "v.html"
    )
    page = path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page
    assert page.count("<script") == 2  # the data and the viewer, inline


def test_a_16_by_500_by_128_lstm_page_is_under_10_mb(tmp_path):
    rng = np.random.default_rng(1)
    gates = {
        name: rng.uniform(-1, 1, (16, 500, 128)).astype("float32")
        for name in LSTM_NAMES
    }
    tokens = [list("x" * 500)] * 16
    size = (
        viewer.write_html(gates, tokens, tmp_path / "big.html").stat().st_size
    )
    assert size < 10_000_000, size


@pytest.mark.parametrize(
    "gates,tokens,message",
    [
        ([1, 2], None, "gates must be a dict of gate arrays"),
        ({"forgot": np.zeros((3, 2))}, None, "unknown gate 'forgot'"),
        ({"forget": np.zeros(3)}, None, r"must be \(batch, time, units\)"),
        (
            {"forget": np.zeros((3, 2)), "input": np.zeros((4, 2))},
            None,
            "every gate must have the same shape",
        ),
        ({"forget": np.zeros((3, 2))}, ["a", "b"], r"tokens\[0\] has 2 tokens"),
        (
            {"forget": np.zeros((2, 3, 2))},
            ["a", "b", "c"],
            "one list of strings but gates hold 2 sequences",
        ),
    ],
)
def test_bad_input_is_named(gates, tokens, message, tmp_path):
    with pytest.raises((TypeError, ValueError), match=message):
        viewer.write_html(gates, tokens, tmp_path / "v.html")


# -- the page in a browser ----------------------------------------------------


class Page:
    """The viewer opened in the browser, with the gates it was given."""

    def __init__(self, driver, gates, tokens, path, **options):
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.gates, self.tokens = driver, gates, tokens
        viewer.write_html(gates, tokens, path, **options)
        driver.get(path.as_uri())
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script("return !!window.gateViewer")
        )
        self.errors()  # nothing from loading

    def find(self, selector):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def tokens_shown(self):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, "#text .tok")

    def choose(self, menu, value):
        from selenium.webdriver.support.ui import Select

        Select(self.find(f"#{menu}")).select_by_value(str(value))

    def unit(self, unit):
        box = self.find("#unit")
        box.clear()
        box.send_keys(str(unit))

    def colours(self):
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#text .tok'))"
            ".map(n => getComputedStyle(n).backgroundColor)"
        )

    def errors(self):
        logs = self.driver.get_log("browser")
        severe = [entry for entry in logs if entry["level"] == "SEVERE"]
        assert not severe, severe


def expected_colour(scale, position):
    """Linear interpolation of the documented stops, written here."""
    stops = viewer.SCALES[scale]
    for (p0, c0), (p1, c1) in zip(stops[:-1], stops[1:], strict=True):
        if p0 <= position <= p1:
            t = (position - p0) / (p1 - p0)
            return tuple(
                int(np.floor(a + (b - a) * t + 0.5))
                for a, b in zip(c0, c1, strict=True)
            )
    raise AssertionError(position)


def rgb(text):
    return tuple(int(v) for v in re.findall(r"\d+", text)[:3])


@pytest.fixture
def page(browser, rng, tmp_path):
    gates = planted_gates(rng)
    return Page(browser, gates, [words(), words(offset=5)], tmp_path / "v.html")


def test_one_element_per_token_in_order(page):
    shown = page.tokens_shown()
    assert [node.text for node in shown] == page.tokens[0]
    page.choose("sequence", 1)
    assert [node.text for node in page.tokens_shown()] == page.tokens[1]
    page.errors()


@pytest.mark.parametrize("gate,unit", [("forget", 3), ("cell", 2)])
def test_a_tokens_colour_is_the_scale_at_its_value(page, gate, unit):
    page.choose("gate", gate)
    page.unit(unit)
    values = page.gates[gate][0, :, unit].astype("float64")
    reach = np.abs(page.gates[gate][:, :, unit]).max()  # both sequences
    low, high = (0.0, 1.0) if gate == "forget" else (-reach, reach)
    scale = "gate" if gate == "forget" else "signed"
    colours = [rgb(c) for c in page.colours()]
    assert len(set(colours)) > TIME // 2  # the unit's values, not one colour
    for step, (value, shown) in enumerate(zip(values, colours, strict=True)):
        level = np.rint((value - low) / (high - low) * 254) / 254
        assert shown == expected_colour(scale, level), step
        exact = np.array(expected_colour(scale, (value - low) / (high - low)))
        assert np.abs(np.array(shown) - exact).max() <= 2, step
    page.errors()


def test_hover_shows_every_gate_of_the_unit_at_that_step(page):
    from selenium.webdriver.common.action_chains import ActionChains

    page.unit(4)
    for step in (0, 17, TIME - 1):
        token = page.tokens_shown()[step]
        ActionChains(page.driver).move_to_element(token).perform()
        text = page.find("#tooltip").text
        assert text.startswith(f'step {step}  token "{page.tokens[0][step]}"')
        assert "unit 4" in text
        shown = dict(re.findall(r"^(\w+)\s+(-?\d+\.\d+)$", text, re.M))
        assert sorted(shown) == sorted(LSTM_NAMES)
        for name, value in shown.items():
            true = page.gates[name][0, step, 4]
            reach = np.abs(page.gates[name][:, :, 4]).max()
            span = 1.0 if name in ("input", "forget", "output") else 2 * reach
            assert abs(float(value) - true) <= span / 508 + 5e-4, name
    page.errors()


def test_selecting_a_span_ranks_the_unit_that_is_on_there_first(page):
    from selenium.webdriver.common.action_chains import ActionChains

    page.choose("gate", "cell")
    first, last = (page.tokens_shown()[step] for step in SPAN)
    ActionChains(page.driver).click_and_hold(first).move_to_element(
        last
    ).release().perform()
    assert page.find("#span-info").text == f"span: steps {SPAN[0]}..{SPAN[1]}"
    ranked = page.driver.execute_script(
        "return Array.from(document.querySelectorAll('#match-list li'))"
        ".map(li => Number(li.dataset.unit))"
    )
    assert ranked[0] == PLANTED_UNIT and len(ranked) == 10
    page.driver.execute_script(
        "document.querySelector('#match-list li').click()"
    )
    assert page.find("#unit").get_attribute("value") == str(PLANTED_UNIT)
    selected = page.driver.execute_script(
        "return Array.from(document.querySelectorAll('#text .tok.selected'))"
        ".map(n => Number(n.dataset.step))"
    )
    assert selected == list(range(SPAN[0], SPAN[1] + 1))
    page.errors()


def test_clicking_a_row_of_the_overview_picks_its_unit(page):
    from selenium.webdriver.common.action_chains import ActionChains

    overview = page.find("#overview")
    row = overview.size["height"] / UNITS
    for unit in (5, 0, UNITS - 1):
        y = int((unit + 0.5) * row - overview.size["height"] / 2)
        ActionChains(page.driver).move_to_element_with_offset(
            overview, 0, y
        ).click().perform()
        assert page.find("#unit").get_attribute("value") == str(unit)
    page.choose("gate", "forget")
    values = page.gates["forget"][0, :, UNITS - 1]
    expected = [expected_colour("gate", np.rint(v * 254) / 254) for v in values]
    assert [rgb(c) for c in page.colours()] == expected
    page.errors()


def test_masked_steps_are_marked_and_said(browser, rng, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    gates = planted_gates(rng, batch=1)
    for value in gates.values():
        value[0, 30:] = np.nan
    page = Page(browser, gates, words(), tmp_path / "masked.html")
    masked = page.driver.execute_script(
        "return Array.from(document.querySelectorAll('#text .tok.masked'))"
        ".map(n => Number(n.dataset.step))"
    )
    assert masked == list(range(30, TIME))
    ActionChains(page.driver).move_to_element(page.tokens_shown()[33]).perform()
    assert re.search(r"^forget\s+masked$", page.find("#tooltip").text, re.M)
    page.errors()


def test_a_gru_page_offers_its_gates_and_states_the_convention(
    browser, rng, tmp_path
):
    names = ("update", "reset", "candidate", "hidden")
    gates = {
        name: rng.uniform(0, 1, (1, 8, 3)).astype("float32") for name in names
    }
    page = Page(browser, gates, list("abcdefgh"), tmp_path / "gru.html")
    options = page.driver.execute_script(
        "return Array.from(document.querySelectorAll('#gate option'))"
        ".map(o => o.value)"
    )
    assert options == ["update", "reset", "candidate", "hidden"]
    assert "share of the old state kept" in page.find("#note").text
    assert [n.text for n in page.tokens_shown()] == list("abcdefgh")
    page.errors()


def test_the_page_starts_where_it_is_told_and_a_link_can_say_otherwise(
    browser, rng, tmp_path
):
    gates = planted_gates(rng)
    path = tmp_path / "start.html"
    page = Page(browser, gates, None, path)
    assert page.find("#gate").get_attribute("value") == "cell"
    viewer.write_html(gates, None, path, gate="forget", unit=5)
    browser.get(path.as_uri())
    assert page.find("#gate").get_attribute("value") == "forget"
    assert page.find("#unit").get_attribute("value") == "5"
    browser.get(path.as_uri() + "#gate=output&unit=9&sequence=1")
    for _ in ("a link followed on the page", "the page opened by the link"):
        assert page.find("#gate").get_attribute("value") == "output"
        assert page.find("#unit").get_attribute("value") == "9"
        assert page.find("#sequence").get_attribute("value") == "1"
        browser.refresh()
    values = gates["output"][1, :, 9]
    expected = [expected_colour("gate", np.rint(v * 254) / 254) for v in values]
    assert [rgb(c) for c in page.colours()] == expected
    page.unit(2)
    assert browser.execute_script("return location.hash") == (
        "#gate=output&unit=2&sequence=1"
    )
    page.errors()


def test_a_layer_beside_the_gates_is_drawn_and_hovered(browser, rng, tmp_path):
    """What each step left in the final cell state, shown as a layer: its
    colours are the signed scale at its values, the hover lists it."""
    from selenium.webdriver.common.action_chains import ActionChains

    gates = planted_gates(rng)
    name = "left in the last cell state"
    # Written here, not by memory_contributions: i * g times the forget
    # gates after each step.
    after = np.cumprod(gates["forget"][:, ::-1], axis=1)[:, ::-1]
    after = np.concatenate([after[:, 1:], np.ones_like(after[:, :1])], 1)
    left = gates["input"] * gates["candidate"] * after
    page = Page(
        browser, gates, None, tmp_path / "layer.html", layers={name: left}
    )
    page.choose("gate", name)
    page.unit(6)
    reach = np.abs(left[:, :, 6]).max()
    expected = [
        expected_colour(
            "signed", np.rint((v + reach) / (2 * reach) * 254) / 254
        )
        for v in left[0, :, 6]
    ]
    assert [rgb(c) for c in page.colours()] == expected
    ActionChains(browser).move_to_element(page.tokens_shown()[3]).perform()
    line = [
        row for row in page.find("#tooltip").text.splitlines() if name in row
    ]
    assert len(line) == 1
    shown = float(line[0].split()[-1])
    assert abs(shown - left[0, 3, 6]) <= 2 * reach / 508 + 5e-4
    page.errors()


@pytest.mark.parametrize(
    "layers, message",
    [
        ({"forget": np.zeros((2, 40, 12))}, "layers['forget'] has a gate's"),
        ({"x": np.zeros((2, 40, 3))}, "layers['x'] must have the gates' shape"),
        ([np.zeros((2, 40, 12))], "layers must be a dict"),
    ],
)
def test_a_bad_layer_is_named(layers, message, rng, tmp_path):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        viewer.write_html(
            planted_gates(rng), None, tmp_path / "a.html", layers=layers
        )


def test_a_start_that_does_not_exist_is_named(rng, tmp_path):
    with pytest.raises(ValueError, match="gate must be one of"):
        viewer.write_html(
            planted_gates(rng), None, tmp_path / "a.html", gate="x"
        )
    with pytest.raises(ValueError, match=r"unit must be an int in \[0, 12\)"):
        viewer.write_html(
            planted_gates(rng), None, tmp_path / "a.html", unit=12
        )


def test_the_speed_experiment_at_toy_size(browser, tmp_path):
    from experiments import viewer_speed

    out = tmp_path / "speed"
    viewer_speed.main(
        ["--sequences", "2", "--steps", "30", "--units", "4", "--loads",
         "2", "--output", str(out)]
    )  # fmt: skip
    run = json.loads((out / "results.json").read_text())["runs"][0]
    assert run["shape"] == "2 x 30 x 4" and run["bytes"] > 1000
    for name in ("built", "shown", "loaded", "first_paint", "unit", "gate"):
        assert len(run["times"][name]) == 2
        assert all(0 < value < 60_000 for value in run["times"][name]), name
    assert "| first_paint |" in (out / "summary.md").read_text()


def test_two_inline_viewers_in_one_page_work_apart(browser, rng, tmp_path):
    """What a notebook shows: two `show` frames in one document, each its
    own page; picking a unit in one leaves the other as it was."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    first, second = planted_gates(rng), planted_gates(rng)
    host = tmp_path / "notebook.html"
    host.write_text(
        "<!DOCTYPE html><html><body>"
        + viewer.show(first, None, gate="forget")._repr_html_()
        + viewer.show(second, None, gate="forget", unit=1)._repr_html_()
        + "</body></html>"
    )
    browser.get(host.as_uri())
    frames = browser.find_elements(By.TAG_NAME, "iframe")
    assert len(frames) == 2

    page = Page.__new__(Page)  # the helpers, on the frame switched to
    page.driver = browser
    shown = []
    for frame, gates, unit in ((frames[0], first, 5), (frames[1], second, 1)):
        browser.switch_to.default_content()
        browser.switch_to.frame(frame)
        WebDriverWait(browser, 10).until(
            lambda d: d.execute_script("return !!window.gateViewer")
        )
        if unit == 5:
            page.unit(5)
        values = gates["forget"][0, :, unit]
        expected = [
            expected_colour("gate", np.rint(v * 254) / 254) for v in values
        ]
        shown.append([rgb(c) for c in page.colours()] == expected)
    assert shown == [True, True]
    browser.switch_to.default_content()
    page.errors()


def test_show_refuses_a_height_that_is_not_pixels(rng):
    with pytest.raises(ValueError, match="height must be a number of pixels"):
        viewer.show(planted_gates(rng), height="tall")


# -- the viewer's features, against numpy on the page's own codes ------------


def page_values(path, gate, sequence=0, layer=None):
    """The values the page holds for `gate`, decoded here from its JSON:
    (time, units), NaN where masked."""
    import base64
    import json

    text = path.read_text("utf-8")
    payload = re.search(
        r"type='application/json'>(.*?)</script>", text, re.S
    ).group(1)
    data = json.loads(payload.replace("<\\/", "</"))
    if layer is not None:
        data = data["layers"][layer]
    codes = np.frombuffer(
        base64.b64decode(data["sequences"][sequence]["codes"][gate]), "uint8"
    ).reshape(data["time"], data["units"])
    low, high = (np.array(bound) for bound in data["ranges"][gate])
    values = low + codes / viewer.LEVELS * (high - low)
    return np.where(codes == viewer.MASKED, np.nan, values), codes


def _select(page, first, last):
    from selenium.webdriver.common.action_chains import ActionChains

    nodes = page.tokens_shown()
    ActionChains(page.driver).click_and_hold(nodes[first]).move_to_element(
        nodes[last]
    ).release().perform()


def _set(page, box, value):
    page.driver.execute_script(
        "const b = document.querySelector(arguments[0]); b.value = "
        "arguments[1]; b.dispatchEvent(new Event('input')); "
        "b.dispatchEvent(new Event('change'));",
        box,
        str(value),
    )


@pytest.mark.parametrize("on, off", [(0.5, 0.5), (0.3, 0.6), (0.7, 0.2)])
def test_the_thresholded_match_counts_the_units_numpy_counts(
    browser, rng, tmp_path, on, off
):
    gates = planted_gates(rng)
    path = tmp_path / "match.html"
    page = Page(browser, gates, None, path)
    page.choose("gate", "forget")
    first, last = 12, 14
    _select(page, first, last)
    _set(page, "#match-on", on)
    _set(page, "#match-off", off)
    values, _ = page_values(path, "forget")
    inside = (values[first : last + 1] >= on).all(0)
    edges = (values[[first - 1, last + 1]] <= off).all(0)
    expected = set(np.flatnonzero(inside & edges).tolist())
    shown = page.find("#match-count").get_attribute("data-units")
    assert {int(u) for u in shown.split(",") if u} == expected
    assert page.find("#match-count").text.startswith(
        f"{len(expected)} of {UNITS} units match"
    )
    page.errors()


def test_a_unit_s_top_excerpts_are_numpy_s(browser, rng, tmp_path):
    gates = planted_gates(rng, batch=3)
    # The highest at step 20; two just as far as an excerpt reaches (5
    # steps: left out), one a step further (kept).
    gates["input"][:, :, 5] *= 0.9
    for step, value in ((20, 0.99), (25, 0.98), (15, 0.97), (26, 0.96)):
        gates["input"][0, step, 5] = value
    path = tmp_path / "top.html"
    page = Page(browser, gates, [words(), words(offset=3), words(offset=7)],
                path)  # fmt: skip
    page.choose("gate", "input")
    page.unit(5)
    _set(page, "#top-k", 6)
    codes = np.stack([page_values(path, "input", s)[1][:, 5] for s in range(3)])
    order = sorted(
        (-int(codes[s, t]), s, t) for s in range(3) for t in range(TIME)
    )
    chosen = []
    for _, s, t in order:
        if len(chosen) == 6:
            break
        if all(s != cs or abs(t - ct) > 5 for cs, ct in chosen):
            chosen.append((s, t))
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('#top-list li'))"
        ".map(li => [Number(li.dataset.sequence), Number(li.dataset.step)])"
    )
    assert [tuple(x) for x in shown] == chosen
    assert chosen[:2] == [(0, 20), (0, 26)]
    first = page.find("#top-list li b").text
    assert first == page.tokens[chosen[0][0]][chosen[0][1]]
    page.errors()


def _overview_row(browser, unit):
    return browser.execute_script(
        "const c = document.getElementById('overview');"
        "const g = c.getContext('2d');"
        "const row = Math.max(1, Math.min(8, Math.floor(384 / arguments[1])));"
        "const y = arguments[0] * row + Math.floor(row / 2);"
        "const d = g.getImageData(0, y, c.width, 1).data;"
        "const out = []; for (let x = 0; x < c.width; x++)"
        " out.push([d[4 * x], d[4 * x + 1], d[4 * x + 2]]); return out;",
        unit,
        UNITS,
    )


def test_a_5000_step_overview_fits_and_zooms(browser, rng, tmp_path):
    time = 5000
    gates = {"forget": rng.uniform(0, 1, (1, time, UNITS)).astype("float32")}
    path = tmp_path / "long.html"
    page = Page(browser, gates, None, path)
    page.unit(2)
    width = browser.execute_script(
        "return document.getElementById('overview').width"
    )
    assert width <= 900
    scroll = browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    assert scroll
    _, codes = page_values(path, "forget")
    # Unit 6's row (unit 2, picked, is outlined).
    positions = codes[:, 6] / viewer.LEVELS
    bins = 900
    expected = [
        expected_colour(
            "gate",
            positions[b * time // bins : (b + 1) * time // bins].mean(),
        )
        for b in range(bins)
    ]
    row = _overview_row(browser, 6)
    assert [tuple(p) for p in row] == expected
    _set(page, "#view-from", 100)
    _set(page, "#view-to", 199)
    row = _overview_row(browser, 6)
    assert len(row) == 100 * 4  # four pixels a step when they fit
    expected = [expected_colour("gate", p) for p in positions[100:200]]
    assert [tuple(p) for p in row[::4]] == expected
    assert "steps 100..199" in page.find("#overview-axis").text
    page.errors()


def test_several_layers_in_one_page(browser, rng, tmp_path):
    first = planted_gates(rng)
    second = {
        name: rng.uniform(0, 1, (2, TIME, 5)).astype("float32")
        for name in ("update", "reset", "candidate", "hidden")
    }
    path = tmp_path / "layers.html"
    page = Page(browser, {"enc/lstm": first, "gru": second}, None, path)
    options = browser.execute_script(
        "return Array.from(document.querySelectorAll('#layer option'))"
        ".map(o => o.textContent)"
    )
    assert options == ["enc/lstm", "gru"]
    page.choose("layer", 1)
    page.choose("gate", "reset")
    page.unit(4)
    values = second["reset"][0, :, 4]
    expected = [expected_colour("gate", np.rint(v * 254) / 254) for v in values]
    assert [rgb(c) for c in page.colours()] == expected
    assert "share of the old state kept" in page.find("#note").text
    assert browser.execute_script("return location.hash") == (
        "#gate=reset&unit=4&sequence=0&layer=1"
    )
    browser.get(path.as_uri() + "#gate=forget&unit=3&sequence=1&layer=0")
    browser.refresh()
    assert page.find("#layer").get_attribute("value") == "0"
    values = first["forget"][1, :, 3]
    expected = [expected_colour("gate", np.rint(v * 254) / 254) for v in values]
    assert [rgb(c) for c in page.colours()] == expected
    page.errors()
    with pytest.raises(ValueError, match="every layer must have the same"):
        viewer.write_html(
            {"a": first, "b": planted_gates(rng, time=7)}, None, path
        )
