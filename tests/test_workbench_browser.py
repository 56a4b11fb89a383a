"""The workbench in headless Chromium (Playwright with the system browser): each role signs in as its
own user and does its part: admin adds a privacy officer; QA uploads; the domain expert declares a
constraint; QA fits, samples, evaluates, requests releases and monitors an uploaded window for drift;
the privacy officer decides. Skipped without /usr/bin/chromium."""

import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("argon2")

from synthloop.workbench.app import create_app
from synthloop.workbench.auth import add_user

PASSWORD = "a-long-password"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def served(tmp_path):
    """The app on a free loopback port, served by uvicorn in a thread; one user per role."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian chromium at {CHROMIUM}")
    pytest.importorskip("playwright.sync_api")
    uvicorn = pytest.importorskip("uvicorn")
    app = create_app(tmp_path / "data")
    state = app.state.workbench.state
    add_user(state, "root", PASSWORD, ["admin"])
    add_user(state, "quinn", PASSWORD, ["qa"])
    add_user(state, "eve", PASSWORD, ["expert"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.slow
def test_each_role_works_through_the_pages_in_headless_chromium(served, penguins, tmp_path):
    """Admin adds a privacy officer; QA uploads; the domain expert (a user of their own) declares a
    constraint and sees the rows that break it, which QA can not; QA fits, samples, evaluates and
    requests two releases, then monitors an uploaded window and reads its drift timeline; the privacy
    officer approves one release and refuses the other; the lineage page shows both decisions."""
    from playwright.sync_api import sync_playwright

    app, base = served
    upload = tmp_path / "penguins.csv"
    penguins.to_csv(upload, index=False)
    window = tmp_path / "window-moved.csv"
    moved = penguins.sample(150, random_state=1)
    moved.assign(body_mass_g=moved["body_mass_g"] + 1500).to_csv(window, index=False)

    def sign_in(page, name):
        page.goto(f"{base}/login")
        page.fill("#name", name)
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(f"{base}/datasets")

    def finish(page):
        page.wait_for_selector("#status.status-done, #status.status-failed", timeout=60_000)
        assert page.inner_text("#status") == "done", page.inner_text("main")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            admin = browser.new_page()
            sign_in(admin, "root")
            admin.goto(f"{base}/users")
            admin.fill("#new-name", "pat")
            admin.fill("#new-password", PASSWORD)
            admin.check("input[name=roles][value=privacy]")
            admin.click("#add-user")
            assert "pat" in admin.inner_text("main")

            qa = browser.new_context().new_page()
            sign_in(qa, "quinn")
            qa.set_input_files("#file", str(upload))
            qa.click("#upload")
            qa.wait_for_selector("#preview")
            dataset_url = qa.url
            qa.goto(f"{base}/schema?name=uploads/penguins.csv")   # QA reads the schema but may not save it
            assert qa.query_selector("#save-schema") is None

            expert = browser.new_context().new_page()             # the domain expert, signed in as themself
            sign_in(expert, "eve")
            assert "domain expert" in expert.inner_text("header") and "QA" not in expert.inner_text("header")
            expert.goto(f"{base}/schema?name=uploads/penguins.csv")
            expert.fill("#constraints", "flipper_length_mm > 200")
            expert.click("#save-schema")
            expert.wait_for_selector("#n-violating")
            assert int(expert.inner_text("#n-violating")) == int((~(penguins["flipper_length_mm"] > 200)).sum())
            events = app.state.workbench.worker.store().events()
            assert [e["detail"]["user"] for e in events if e["action"] == "workbench-schema"] == ["eve"]

            qa.goto(dataset_url)
            qa.select_option("#model", "cart")
            qa.click("#fit")
            finish(qa)
            assert "flipper_length_mm > 200" in "\n".join(                # the expert's schema reached the fit
                Path(app.state.workbench.folders.root / job["outputs"]["schema"]).read_text()
                for job in app.state.workbench.state.jobs(kind="fit"))
            qa.click("#sample")
            finish(qa)
            qa.click("#evaluate")
            finish(qa)
            verdict = qa.inner_text("#verdict")
            evaluation_url = qa.url
            qa.click("#report-link")
            qa.wait_for_selector("#verdict")                     # the report page's own verdict block
            assert verdict in qa.inner_text("#verdict").lower()
            releases = []
            for _ in range(2):
                qa.goto(evaluation_url)
                qa.select_option("#tier", "internal")
                qa.click("#request-release")
                qa.wait_for_selector("#release-status")
                releases.append((qa.url, qa.inner_text("#release-status")))

            qa.goto(f"{base}/datasets")                          # QA monitors a window whose body mass moved
            qa.set_input_files("#file", str(window))
            qa.click("#upload")
            qa.wait_for_selector("#preview")
            qa.click("header a[href='/monitor']")
            qa.select_option("#monitor-reference", "uploads/penguins.csv")
            qa.check("input[name=windows][value='uploads/window-moved.csv']")
            qa.fill("#monitor-target", "sex")
            qa.click("#run-monitor")
            finish(qa)
            qa.click("#timeline-link")
            qa.wait_for_selector("#timeline")
            timeline = qa.inner_text("#timeline")
            assert "uploads/window-moved.csv" in timeline and "drift" in timeline and "body_mass_g" in timeline
            assert qa.inner_text("#n-drifted") == "1"
            frame = qa.frame_locator("#latest-report")
            assert "window-moved.csv" in frame.locator("body").inner_text(timeout=10_000)

            # cart (seeded by the form's seed 0) passes the internal tier; a failure names the gates
            assert any(status == "requested" for _, status in releases), \
                [(r["status"], [g for g in r["gates"] if not g["passed"]]) for r in app.state.workbench.state.releases()]
            officer = browser.new_context().new_page()
            sign_in(officer, "pat")
            state, decided = app.state.workbench.state, []
            for (url, status), decision in zip(releases, ("approve", "refuse"), strict=True):
                officer.goto(url)
                if status == "blocked":                           # the tier's gates failed: no decision offered
                    assert officer.query_selector(f"#{decision}") is None
                    continue
                officer.fill("#reason", f"{decision}d in the browser test")
                officer.click(f"#{decision}")
                officer.wait_for_selector(f"#release-status.status-{decision}d")
                assert state.release(url.rsplit("/", 1)[-1])["decided_by"] == "pat"
                decided.append(decision)
            officer.goto(f"{base}/lineage")
            events = officer.inner_text("#events")
            for decision in decided:
                assert f"release-{decision}d" in events
            assert "user=pat" in events and "user=eve" in events
            assert "workbench-fit" in events and "workbench-upload" in events and "workbench-monitor" in events
        finally:
            browser.close()
