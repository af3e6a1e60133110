"""Opening a gate viewer page in headless Chromium (Debian's `chromium`
and `chromedriver`, through Selenium) and timing it: shared by
`experiments.viewer_speed` and `experiments.view_command`."""

from __future__ import annotations

import shutil
from pathlib import Path


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1300,1000",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(
        service=Service(shutil.which("chromedriver")), options=options
    )


OPENING = """
const t = performance.getEntriesByType("navigation")[0];
const paint = performance.getEntriesByName("first-contentful-paint")[0];
return {built: window.gateViewer.builtAt, shown: window.gateViewer.shownAt,
        loaded: t.loadEventEnd,
        first_paint: paint ? paint.startTime : null};
"""

ACTIONS = """
const box = document.getElementById("unit");
const gate = document.getElementById("gate");
const time = (work) => { const s = performance.now(); work();
  document.body.offsetHeight; return performance.now() - s; };
const tokens = document.querySelectorAll("#text .tok");
const down = (n, shift) => n.dispatchEvent(new MouseEvent("mousedown",
  {bubbles: true, shiftKey: shift}));
return {
  unit: time(() => { box.value = "77";
                     box.dispatchEvent(new Event("input")); }),
  gate: time(() => { gate.value = "forget";
                     gate.dispatchEvent(new Event("change")); }),
  span: time(() => { const a = Math.floor(tokens.length / 5);
                     down(tokens[a], false);
                     down(tokens[Math.min(tokens.length - 1, a + 60)], true);
                     document.dispatchEvent(new MouseEvent("mouseup")); }),
};
"""


def measure(path: Path, loads: int) -> list[dict]:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser()
    found = []
    browser_name = "Chromium " + driver.capabilities.get("browserVersion", "?")
    try:
        for _ in range(loads):
            driver.get("about:blank")
            driver.get(path.as_uri())
            WebDriverWait(driver, 30).until(
                lambda d: d.execute_script(
                    "return !!(window.gateViewer && window.gateViewer.shownAt"
                    " && performance.getEntriesByName("
                    "'first-contentful-paint').length)"
                )
            )
            opening = driver.execute_script(OPENING)
            found.append({**opening, **driver.execute_script(ACTIONS)})
    finally:
        driver.quit()
    return found, browser_name
