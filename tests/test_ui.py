"""The Dagster UI end to end: `dagster dev` over a test home, driven by headless Chromium (Selenium).

One shard of demo footage is registered (partition added, nothing materialised). The test checks the
asset graph and the partitions view; launches the shard for every per-shard asset from the
"Materialize all…" partition dialog of the curate_shard job (with the job's own executor: in-process
by default; VIDGEN_UI_EXECUTOR=in_process also exercises the dialog's Config editor with the
multiprocess executor's in_process config, for VIDGEN_EXECUTOR=multiprocess); waits for the run(s)
to succeed; checks
the run page and the assets' Checks tabs; and cross-checks the instance under <home>/dagster.

Skipped when selenium, chromium or chromedriver is missing, unless VIDGEN_REQUIRE_BROWSER=1 (CI),
where that is a failure. On failure, screenshots, page source, the steps taken and the dagster dev
log go to $VIDGEN_UI_ARTIFACTS (default <tmp>/ui-artifacts); the path is in the failure message.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
from ui_helpers import Artifacts, DagsterDev, find_browser, instance_folder, make_driver, wait_for

pytestmark = pytest.mark.slow

JOB = "curate_shard"  # every per-shard asset, partitioned by video_shards
ACCOUNTING = {"clips": "shard_accounting", "coarse_selection": "coarse_accounting",
              "curated_clips": "curated_accounting"}
RUN_TIMEOUT = float(os.environ.get("VIDGEN_UI_RUN_TIMEOUT", "420"))
# The code location's default executor is in-process (a multiprocess executor would start a process per
# step, each importing the code location: ~2 minutes on 2 idle cores). VIDGEN_UI_EXECUTOR=in_process
# enters `execution: {config: {in_process: {}}}` in the launch dialog's Config editor, which is the run
# config the multiprocess executor (VIDGEN_EXECUTOR=multiprocess) takes to run in one process.
EXECUTOR = os.environ.get("VIDGEN_UI_EXECUTOR", "default")
IN_PROCESS_CONFIG = "execution:\n  config:\n    in_process: {}\n"
UI_WAIT = 60


@pytest.fixture
def browser_paths():
    chromium, chromedriver, reason = find_browser()
    if reason:
        if os.environ.get("VIDGEN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"VIDGEN_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return chromium, chromedriver


@pytest.fixture
def artifacts(tmp_path) -> Artifacts:
    explicit = os.environ.get("VIDGEN_UI_ARTIFACTS")
    return Artifacts(Path(explicit) if explicit else tmp_path / "ui-artifacts")


def register_one_shard(home: Path, footage: Path) -> str:
    """Register all of ``footage`` as one shard and add its partition; nothing is materialised."""
    from vidgen_dagster.core.common.config import load_config
    from vidgen_dagster.core.common.store import Store
    from vidgen_dagster.core.ingest import shards as shardlib
    from vidgen_dagster.defs.resources import video_shards

    config = load_config(None)
    entries = [shardlib.FileEntry.of(p) for p in shardlib.discover([footage], config["ingest"]["extensions"])]
    store = Store(str(home))
    shardlib.add_input_roots(store, [footage])  # as `vidgen curate` does: manifests name only known folders
    new = shardlib.register(store, entries, len(entries))
    assert len(new) == 1, [m.shard for m in new]
    instance = dg.DagsterInstance.from_config(str(instance_folder(home)))
    try:
        instance.add_dynamic_partitions(video_shards.name, [new[0].shard])
    finally:
        instance.dispose()
    return new[0].shard


# --------------------------------------------------------------------------- page helpers

def _lit(text: str) -> str:
    """An XPath string literal for ``text``."""
    if "'" not in text:
        return f"'{text}'"
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in text.split("'")) + ")"


def dialog_with(text: str) -> str:
    """A Blueprint dialog (Dagster's modals) holding an element whose own text is ``text``."""
    return (f"//*[contains(concat(' ', @class, ' '), ' bp5-dialog ')]"
            f"[.//*[normalize-space(text())={_lit(text)}]]")


def visible(driver, xpath: str, timeout: float = UI_WAIT, what: str | None = None):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(
            EC.visibility_of_element_located((By.XPATH, xpath)))
    except Exception as exc:
        raise AssertionError(f"not visible after {timeout:.0f}s: {what or xpath} "
                             f"(url {driver.current_url})") from exc


def click(driver, xpath: str, timeout: float = UI_WAIT, what: str | None = None):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        el = WebDriverWait(driver, timeout, poll_frequency=0.25).until(
            EC.element_to_be_clickable((By.XPATH, xpath)))
    except Exception as exc:
        raise AssertionError(f"not clickable after {timeout:.0f}s: {what or xpath} "
                             f"(url {driver.current_url})") from exc
    el.click()
    return el


def dismiss_community_dialog(driver) -> None:
    """The "Join the Dagster community" dialog (suppressed through localStorage; this is a fallback)."""
    from selenium.webdriver.common.by import By

    for skip in driver.find_elements(
            By.XPATH, dialog_with("Join the Dagster community") + "//button[normalize-space()='Skip']"):
        if skip.is_displayed():
            skip.click()


def open_page(driver, url: str, ready_xpath: str, what: str):
    driver.get(url)
    el = visible(driver, ready_xpath, what=what)
    dismiss_community_dialog(driver)
    return el


def asset_node(name: str) -> str:
    """An asset's name in the lineage graph (the nodes are HTML inside SVG foreignObjects). A name too long for its
    node is drawn middle-truncated (``perceptual_…_model``): that counts when the visible head and tail are this
    name's own."""
    lit, shown = _lit(name), "normalize-space(text())"
    head, tail = f"substring-before({shown}, '…')", f"substring-after({shown}, '…')"
    truncated = (f"string-length({head}) > 0 and starts-with({lit}, {head}) and "
                 f"substring({lit}, string-length({lit}) - string-length({tail}) + 1) = {tail}")
    return f"//*[local-name()='foreignObject']//*[{shown}={lit} or ({truncated})]"


def all_visible(driver, xpaths: list[str]) -> bool:
    from selenium.webdriver.common.by import By

    return all(any(e.is_displayed() for e in driver.find_elements(By.XPATH, x)) for x in xpaths)


def enter_run_config(driver, dialog: str, yaml_text: str) -> None:
    """Config section of the launch dialog -> "Add config" -> Config Editor -> "Save config"."""
    from selenium.webdriver.common.by import By

    click(driver, f"{dialog}//*[normalize-space(text())='Config']", what="the dialog's Config section")
    click(driver, f"{dialog}//button[normalize-space()='Add config']", what="'Add config'")
    editor = dialog_with("Config Editor")
    cm = visible(driver, f"{editor}//*[contains(@class,'CodeMirror')]"
                         "[not(ancestor::*[contains(@class,'CodeMirror')])]", what="the config editor")
    # CodeMirror keeps its own model: set the text through its API (typed newlines would auto-indent).
    driver.execute_script("arguments[0].CodeMirror.setValue(arguments[1])", cm, yaml_text)
    visible(driver, f"{editor}//*[normalize-space(text())='No errors']", what="the config validating")
    click(driver, f"{editor}//button[normalize-space()='Save config']", what="'Save config'")
    visible(driver, f"{dialog}//*[normalize-space(text())='Config saved']", what="'Config saved'")
    wait_for(lambda: not [e for e in driver.find_elements(By.XPATH, editor) if e.is_displayed()], UI_WAIT,
             "the config editor to close")


# --------------------------------------------------------------------------- instance helpers

def shard_runs(instance: dg.DagsterInstance, shard: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": shard})))


class RunWatch:
    """Polls the instance for the shard's runs; done when all finished (and the backfill, if any)."""

    RETRY_GRACE = 30.0  # a failed run is retried once (run_retries in dagster.yaml): give it time to appear

    def __init__(self, instance: dg.DagsterInstance, shard: str, backfill_id: str | None):
        self.instance, self.shard, self.backfill_id = instance, shard, backfill_id
        self.failed_since: float | None = None

    def __call__(self) -> list[dg.DagsterRun] | None:
        runs = shard_runs(self.instance, self.shard)
        if not runs or any(not r.is_finished for r in runs):
            self.failed_since = None
            return None
        if self.backfill_id:
            backfill = self.instance.get_backfill(self.backfill_id)
            if backfill is None or backfill.status.value in ("REQUESTED", "CANCELING", "FAILING"):
                return None
        if any(r.status == dg.DagsterRunStatus.SUCCESS for r in runs):
            return runs
        self.failed_since = self.failed_since or time.monotonic()
        return runs if time.monotonic() - self.failed_since > self.RETRY_GRACE else None


def failure_summary(instance: dg.DagsterInstance, runs: list[dg.DagsterRun]) -> str:
    lines = []
    for r in runs:
        lines.append(f"run {r.run_id} ({r.job_name}): {r.status.value}")
        for rec in instance.all_logs(r.run_id):
            ev = rec.dagster_event
            if ev is not None and (ev.is_step_failure or ev.event_type_value == "RUN_FAILURE"):
                lines.append(f"  {ev.step_key or '-'}: {rec.message[:300]}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the test

def test_ui_graph_partitions_and_a_one_shard_launch(browser_paths, home, demo_footage, artifacts):
    from vidgen_dagster.definitions import build_definitions

    t_start = time.monotonic()
    timings: dict[str, float] = {}
    with artifacts.on_failure():
        shard = register_one_shard(home, demo_footage)
        graph = build_definitions(str(home)).resolve_asset_graph()
        all_assets = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
        partitioned = sorted(k.to_user_string() for k in graph.get_all_asset_keys()
                             if graph.get(k).partitions_def is not None)
        check_keys = sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name))
        # the checks a shard run evaluates: those on per-shard assets
        present = {(c.asset_key.to_user_string(), c.name) for c in check_keys
                   if c.asset_key.to_user_string() in partitioned}
        assert set(ACCOUNTING.items()) <= present, present
        artifacts.step(f"registered shard {shard}; {len(all_assets)} assets, {len(check_keys)} checks")

        artifacts.folder.mkdir(parents=True, exist_ok=True)
        server = DagsterDev(home, artifacts.folder / "dagster-dev.log")
        artifacts.server = server
        try:
            server.start()
            artifacts.step(f"dagster dev on {server.url}")
            driver = make_driver(*browser_paths, artifacts.folder / "chromedriver.log")
            artifacts.driver = driver
            try:
                timings["dagster dev ready"] = server.wait_ready()
                artifacts.step("server ready (code location loaded, daemons healthy)")
                with artifacts.on_failure():  # saved here, while the browser is still open
                    run_the_ui(driver, server, shard, all_assets, partitioned, artifacts, timings)
            finally:
                artifacts.driver = None
                driver.quit()
        finally:
            server.stop()
        timings["total"] = time.monotonic() - t_start
        print("UI test timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))

        # Cross-check the instance: every per-shard asset materialised for the shard, the checks passed.
        instance = dg.DagsterInstance.from_config(str(server.dagster_home))
        try:
            missing = [k for k in partitioned if not instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(k), asset_partitions=[shard]),
                limit=1).records]
            assert not missing, f"no materialisation for shard {shard}: {missing}"
            evaluations = {}
            for run in shard_runs(instance, shard):
                if run.status != dg.DagsterRunStatus.SUCCESS:
                    continue
                for rec in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                    ev = rec.dagster_event.asset_check_evaluation_data
                    evaluations[(ev.asset_key.to_user_string(), ev.check_name)] = ev
            not_run = sorted(present - set(evaluations))
            assert not not_run, f"checks not evaluated: {not_run}"
            for asset, check in ACCOUNTING.items():
                assert evaluations[(asset, check)].passed, f"{asset}.{check} failed"
            # Everything else may only fail at WARN severity (the pass-rate checks, whose bounds a small
            # sample of footage can miss).
            bad = sorted(f"{a}.{c}" for (a, c), ev in evaluations.items()
                         if not ev.passed and ev.severity != dg.AssetCheckSeverity.WARN)
            assert not bad, f"ERROR-severity checks failed: {bad}"
        finally:
            instance.dispose()


def run_the_ui(driver, server: DagsterDev, shard: str, all_assets: list[str],
               partitioned: list[str], artifacts: Artifacts, timings: dict[str, float]) -> None:
    from selenium.webdriver.common.by import By

    url = server.url
    t0 = time.monotonic()

    # 1. The global asset lineage: every asset of the graph is drawn. Groups start collapsed when there
    #    are several; the graph's settings menu (gear button in the graph toolbar) expands them all.
    artifacts.step("open the asset graph")
    open_page(driver, url + "/asset-groups", "//button[starts-with(normalize-space(),'Materialize all')]",
              "the lineage page")
    nodes = [asset_node(name) for name in all_assets]
    if not all_visible(driver, nodes):
        click(driver, "//button[not(normalize-space())][.//*[@role='img' and @aria-label='settings']]",
              what="the asset graph's settings button")
        click(driver, "//*[normalize-space(text())='Expand all groups']", what="'Expand all groups'")
    wait_for(lambda: all_visible(driver, nodes), UI_WAIT, "every asset name in the graph")
    timings["graph"] = time.monotonic() - t0

    # 2. The partitions view of a partitioned asset lists the shard.
    artifacts.step("open the partitions view")
    asset = "videos" if "videos" in partitioned else partitioned[0]
    open_page(driver, f"{url}/assets/{asset}?view=partitions", f"//*[normalize-space(text())={_lit(shard)}]",
              f"partition {shard} in the partitions view of {asset}")

    # 3. Launch the shard for every per-shard asset: Jobs -> curate_shard -> "Materialize all…" ->
    #    partition dialog -> pick the shard -> launch. With one partition Dagster launches one run of the
    #    asset job ("Launch 1 run"); with more it creates a backfill ("Launch backfill"). Both are accepted.
    artifacts.step("open the job and the partition dialog")
    open_page(driver, url + "/jobs", f"//a[normalize-space()={_lit(JOB)}]", f"job {JOB} in the job list")
    click(driver, f"//a[normalize-space()={_lit(JOB)}]", what=f"job {JOB}")
    click(driver, "//button[starts-with(normalize-space(),'Materialize all')]", what="'Materialize all…'")
    dialog = dialog_with("Partition selection")
    title = visible(driver, f"{dialog}//*[starts-with(normalize-space(text()),'Launch runs to materialize')]",
                    what="the partition dialog")
    assert title.text.strip() == f"Launch runs to materialize {len(partitioned)} assets", title.text
    click(driver, f"{dialog}//*[normalize-space(text())='Select a partition or create one']",
          what="the partition selector")
    click(driver, f"//*[@role='menuitem'][.//*[normalize-space(text())={_lit(shard)}]]",
          what=f"partition {shard} in the selector menu")
    title.click()  # close the selector's menu
    visible(driver, f"{dialog}//*[normalize-space(text())='1 partition']", what="'1 partition' selected")
    if EXECUTOR == "in_process":
        enter_run_config(driver, dialog, IN_PROCESS_CONFIG)
    artifacts.step("launch")
    launch = visible(driver, f"{dialog}//button[normalize-space()='Launch backfill' or "
                             "normalize-space()='Launch 1 run']", what="the launch button")
    label = launch.text.strip()
    launch.click()
    toast = visible(driver, "//*[@data-sonner-toast][contains(normalize-space(),'Launched run') or "
                            "contains(normalize-space(),'Created backfill')]", what="the launch toast")
    link = toast.find_element(By.XPATH, ".//a").get_attribute("href")
    backfill_id = link.rstrip("/").rsplit("/", 1)[-1] if "/runs/b/" in link else None
    artifacts.step(f"launched via {label!r}: {toast.text.splitlines()[0]} ({link})")
    timings["launch"] = time.monotonic() - t0

    # 4. Wait for the run(s): the instance is the source of truth; the UI is checked after.
    t_run = time.monotonic()
    instance = dg.DagsterInstance.from_config(str(server.dagster_home))
    try:
        runs = wait_for(RunWatch(instance, shard, backfill_id), RUN_TIMEOUT,
                        f"the run(s) for shard {shard}", interval=2, alive=server.exited)
        ok = [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]
        assert ok, "no successful run:\n" + failure_summary(instance, runs)
        run = max(ok, key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
        if backfill_id:
            assert instance.get_backfill(backfill_id).status.value == "COMPLETED_SUCCESS"
        if EXECUTOR == "in_process":
            assert "in_process" in str(run.run_config.get("execution")), run.run_config
    finally:
        instance.dispose()
    timings["run"] = time.monotonic() - t_run
    artifacts.step(f"run {run.run_id} succeeded")

    # 5. The UI agrees: the run page says Success (the backfill page, if any, shows the run) ...
    open_page(driver, f"{url}/runs/{run.run_id}", "//*[normalize-space(text())='Success']",
              f"'Success' on the page of run {run.run_id}")
    tag = _lit(f"partition: {shard}")  # the header tag; its text spans several nodes: match the innermost
    visible(driver, f"//*[contains(normalize-space(.),{tag})][not(*[contains(normalize-space(.),{tag})])]",
            what="the run's partition tag")
    if backfill_id:
        open_page(driver, f"{url}/runs/b/{backfill_id}", f"//*[contains(text(),{_lit(run.run_id[:8])})]",
                  f"run {run.run_id[:8]} on the backfill page")
    # ... and each asset's Checks tab shows its accounting check as succeeded, its latest evaluation passed.
    for asset_name, check in ACCOUNTING.items():
        artifacts.step(f"checks tab of {asset_name}")
        row = f"//*[@title={_lit(check)}]"  # the check's row in the tab's list
        open_page(driver, f"{url}/assets/{asset_name}?view=checks", row,
                  f"check {check} on the Checks tab of {asset_name}")
        visible(driver, f"{row}/following-sibling::*[normalize-space()='Succeeded']",
                what=f"{check} Succeeded")
        click(driver, row, what=f"the row of {check}")
        wait_for(lambda check=check: f"checkDetail={check}" in driver.current_url, UI_WAIT,
                 f"the detail pane of {check}")
        visible(driver, "//*[normalize-space(text())='Evaluation result']/following-sibling::*"
                        "//*[normalize-space(text())='Passed']", what=f"{check}: evaluation result Passed")
    timings["ui checks"] = time.monotonic() - t0 - timings["launch"] - timings["run"]

    t_more = time.monotonic()
    check_report_plots(driver, server, artifacts)
    check_threshold_change_marks_coarse_selection_stale(driver, server, shard, artifacts)
    timings["report + stale"] = time.monotonic() - t_more


def check_report_plots(driver, server: DagsterDev, artifacts: Artifacts) -> None:
    """`vidgen report` materialises dataset_report in the same instance; on the asset's page one
    "[Show Markdown]" (the `plots` entry) opens every plot, each loaded and no wider than its dialog."""
    import subprocess
    import sys

    from selenium.webdriver.common.by import By

    artifacts.step("vidgen report, then the report's plots in the UI")
    r = subprocess.run([sys.executable, "-m", "vidgen_dagster.cli", "report", "--home", str(server.home)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    figures = sorted(p.stem.removeprefix("fig_") for p in (server.home / "report").glob("fig_*.png"))
    assert figures, "the report drew no figure"
    row = "//tr[.//*[normalize-space(text())='plots']]"
    open_page(driver, f"{server.url}/assets/dataset_report", f"{row}//*[normalize-space(text())='[Show Markdown]']",
              "the plots entry of dataset_report's metadata")
    click(driver, f"{row}//*[normalize-space(text())='[Show Markdown]']", what="[Show Markdown] of plots")
    dialog = dialog_with("plots")
    visible(driver, f"{dialog}//img", what="a plot in the dialog")

    def loaded():
        box = driver.find_element(By.XPATH, dialog)
        imgs = box.find_elements(By.TAG_NAME, "img")
        state = [driver.execute_script("return [arguments[0].complete, arguments[0].naturalWidth, "
                                       "arguments[0].getBoundingClientRect().width]", i) for i in imgs]
        if len(imgs) == len(figures) and all(i.is_displayed() for i in imgs) and all(c and w > 0 for c, w, _ in state):
            return box.size["width"], state
        return None

    width, state = wait_for(loaded, UI_WAIT, f"{len(figures)} plots loaded in the dialog")
    alts = sorted(i.get_attribute("alt") for i in driver.find_elements(By.XPATH, f"{dialog}//img"))
    assert alts == figures, (alts, figures)
    assert all(300 < shown <= width for _, _, shown in state), (width, state)  # sized to the dialog
    click(driver, f"{dialog}//button[normalize-space()='Close']", what="the dialog's Close button")


def check_threshold_change_marks_coarse_selection_stale(driver, server: DagsterDev, shard: str,
                                                        artifacts: Artifacts) -> None:
    """A threshold change in the home's configuration, the code location reloaded: the shard's
    coarse_selection shows Dagster's "Unsynced" marker (its code version changed), motion_scores does not."""
    import yaml

    from vidgen_dagster.core.common.config import load_config
    from vidgen_dagster.core.common.store import Store
    from vidgen_dagster.runner import apply_config

    artifacts.step("change thresholds.motion_min, reload the code location")
    before = load_config()["thresholds"]["motion_min"]
    change = server.home.parent / "threshold.yaml"
    change.write_text(yaml.safe_dump({"thresholds": {"motion_min": before * 2 + 0.01}}))
    _, changed = apply_config(Store(str(server.home)), str(change), echo=artifacts.step)
    assert changed
    server.graphql('mutation { reloadRepositoryLocation(repositoryLocationName: "vidgen_dagster.definitions") '
                   "{ __typename } }", timeout=300)
    server.wait_ready()
    unsynced = "//*[starts-with(normalize-space(text()),'Unsynced')]"
    header = "//*[normalize-space(text())='Latest materialization']"  # the selected partition's detail
    artifacts.step("the stale marker on coarse_selection")
    open_page(driver, f"{server.url}/assets/coarse_selection?view=partitions&partition={shard}", header,
              f"partition {shard} of coarse_selection")
    visible(driver, unsynced, what="'Unsynced' on coarse_selection after the threshold change")
    artifacts.step("no stale marker on motion_scores")
    open_page(driver, f"{server.url}/assets/motion_scores?view=partitions&partition={shard}", header,
              f"partition {shard} of motion_scores")
    time.sleep(3)  # the stale query answers after the partition header: give it time to (not) show
    assert not all_visible(driver, [unsynced]), "motion_scores marked stale by a threshold change"
