"""The HTML report is self-contained, small, and shows its scores when rendered by headless Chromium."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import synthloop as sl

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def report(adult_small):
    train = adult_small.iloc[:800].reset_index(drop=True)
    holdout = adult_small.iloc[800:1400].reset_index(drop=True)
    schema = sl.Schema.infer(train, target="income")
    synthetic = sl.synthesizers.get("independent", seed=0).fit(train, schema).sample(len(train))
    metrics = ["ks_complement", "tv_complement", "correlation_similarity", "detection_auc", "dcr_share", "tstr_auc"]
    return sl.evaluate(train, synthetic, schema, holdout=holdout, metrics=metrics)


def test_html_is_self_contained_and_small(report, tmp_path):
    page = report.to_html(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == page
    assert len(page.encode()) < 600_000
    assert page.count("data:image/png;base64,") == 4      # marginals, pair trends, attributions, DCR
    assert not re.search(r"(src|href)=\"(https?:)?//", page)       # nothing fetched from the network
    assert "<script" not in page


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_headless_chromium_renders_the_scores(report, tmp_path):
    path = tmp_path / "report.html"
    report.to_html(path)
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "synthloop evaluation" in dom
    for row in report.scores.itertuples(index=False):
        match = re.search(rf'<tr data-metric="{row.metric}"><td>{row.metric}</td><td class="num">([^<]+)</td>', dom)
        assert match, row.metric
        assert float(match.group(1).replace(",", "")) == pytest.approx(row.value, rel=1e-3, abs=1e-9)
    screenshot = tmp_path / "shot.png"
    subprocess.run([*command[:-2], f"--screenshot={screenshot}", "--window-size=1200,1600", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert screenshot.stat().st_size > 10_000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
