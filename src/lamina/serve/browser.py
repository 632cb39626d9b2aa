"""Drive the demo page in Debian's headless Chromium (``chromium`` + ``chromium-driver``) through
Selenium: open it, type a text, press Predict, read every model's row and save a screenshot.
Selenium is a test extra; the browser is never downloaded (the driver is given by path, so
Selenium Manager stays idle)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1100,620",
)


def missing_browser() -> list[str]:
    return [p for p in (CHROMIUM, DRIVER) if not Path(p).exists()]


def predict_in_browser(
    url: str, text: str, *, profile: str | Path, screenshot: str | Path | None = None, timeout: float = 60
) -> list[dict]:
    """Rows the page shows after predicting ``text``: [{model, label, confidence, latency}]."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.set_page_load_timeout(timeout)
        driver.get(url)
        wait = WebDriverWait(driver, timeout)
        wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "loaded"))
        box = driver.find_element(By.ID, "text")
        box.clear()
        box.send_keys(text)
        driver.find_element(By.ID, "predict").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "done"))
        rows = []
        for tr in driver.find_elements(By.CSS_SELECTOR, "#rows tr"):
            cells = {c: tr.find_element(By.CSS_SELECTOR, f"td.{c}").text for c in ("label", "confidence", "latency")}
            rows.append({"model": tr.get_attribute("data-model"), **cells})
        if screenshot:
            driver.save_screenshot(str(screenshot))
        return rows
    finally:
        driver.quit()
