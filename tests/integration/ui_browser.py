#!/usr/bin/env python3
"""ui_browser.py — drives headless Chromium over WebDriver (chromedriver's
HTTP API, standard library only) through ferry ui's page, for t_ui_browser.sh.

  ui_browser.py migrate DRIVER UI PID NAME MODE PNG_DIR
      load the page, find PID in the tree with the search box, open it,
      migrate it to the first peer with MODE, wait for the end, check the
      DOM (live state, rounds, bytes chart, post-copy's live view, history
      row, downtime chart bar) against the API, save a screenshot of the downtime chart and the page
  ui_browser.py crowd DRIVER UI PID MIN_COUNT
      with MIN_COUNT or more processes: time the page's load, a search and
      the details of PID; checks they stay within a responsive budget
Prints one JSON line of what it measured; exits non-zero with the reason."""
import base64, json, sys, time, urllib.request

def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {url}: HTTP {e.code}: {e.read()[:500]!r}")

class Browser:
    def __init__(self, driver):
        self.driver = driver
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1100", "--no-first-run", "--disable-extensions"]}}}}
        self.sid = http("POST", f"{driver}/session", caps)["value"]["sessionId"]
    def cmd(self, method, path, body=None):
        return http(method, f"{self.driver}/session/{self.sid}{path}", body)["value"]
    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})
    def find(self, css):
        v = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(v.values()))
    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})
    def type(self, css, text):
        self.cmd("POST", f"/element/{self.find(css)}/value", {"text": text})
    def wait(self, script, timeout, what, *args):
        end = time.time() + timeout
        while time.time() < end:
            v = self.js(script, *args)
            if v:
                return v
            time.sleep(0.05)
        page_status = self.js("return document.querySelector('#status').textContent")
        raise SystemExit(f"timed out after {timeout}s waiting for {what}; page status: {page_status!r}")
    def load(self, url):
        t0 = time.time()
        self.cmd("POST", "/url", {"url": url})
        self.wait("return document.body.dataset.ready === '1'", 60, "the page to load")
        return (time.time() - t0) * 1e3
    def quit(self):
        http("DELETE", f"{self.driver}/session/{self.sid}")

def fail(msg):
    raise SystemExit("FAIL: " + msg)

def migrate(b, ui, pid, name, mode, png_dir):
    b.load(ui + "/")
    if not b.js("return !!document.querySelector(`#tree li[data-pid='${arguments[0]}']`)", pid):
        fail(f"pid {pid} is not in the tree")
    b.type("#search", name)
    shown = b.wait("""const li = document.querySelector(`#tree li[data-pid='${arguments[0]}']`);
        return li && !li.classList.contains('filtered') && li.classList.contains('match') &&
            document.querySelectorAll('#tree li:not(.filtered)').length""", 5, "the search to show the process", pid)
    total = b.js("return document.querySelectorAll('#tree li').length")
    if shown >= total:
        fail(f"the search for {name} hides nothing ({shown} of {total} shown)")
    b.click(f"#tree li[data-pid='{pid}'] > .row")
    b.wait("return document.querySelector('#details-pid')?.textContent === String(arguments[0])", 10,
           "the details of the process", pid)
    if b.js("return document.querySelector('#movable').className") != "ok":
        fail("the page says ferry cannot move it: " + b.js("return document.querySelector('#movable').textContent"))
    cmdline = b.js("return document.querySelector('#cmdline').textContent")
    if name not in cmdline:
        fail(f"the command line shown is {cmdline!r}")
    b.js("const m = document.querySelector('#mode'); m.value = arguments[0]; m.dispatchEvent(new Event('change'));", mode)
    if b.js("return document.querySelector('#mode').value") != mode:
        offered = b.js("return [...document.querySelectorAll('#mode option')].map(o => o.value)")
        fail(f"mode {mode} is not offered: {offered}")
    t0 = time.time()
    b.click("#migrate")
    b.wait("return document.querySelector('#live-state').textContent === 'running' || "
           "document.querySelector('#live-state').textContent === 'frozen' || "
           "document.querySelector('#live-state').textContent === 'done'", 10, "the live view")
    state = b.wait("const s = document.querySelector('#live-state').textContent; return s === 'done' || s === 'failed' ? s : null",
                   120, "the migration to end")
    if state != "done":
        fail("the migration failed: " + b.js("return document.querySelector('#live-downtime').textContent"))
    mid = int(b.js("return document.querySelector('#live-id').textContent"))
    m = http("GET", f"{ui}/api/migrations/{mid}")
    st = m["stats"]
    shown_down = b.js("return document.querySelector('#measured-downtime').textContent")
    # The page rounds with JavaScript's toFixed (15.25 -> "15.3"); Python's format rounds half to
    # even (15.25 -> "15.2"): the expected text comes from the browser's own rounding.
    want_down = b.js("return Number(arguments[0]).toFixed(1)", st['downtime_ms'])
    if shown_down != want_down:
        fail(f"the page shows a pause of {shown_down} ms, the API {st['downtime_ms']}")
    rows = b.js("return document.querySelectorAll('#rounds tbody tr').length")
    if rows != len(st["rounds"]):
        fail(f"{rows} rounds shown, the stats have {len(st['rounds'])}")
    if mode == "precopy":
        cells = b.js("return [...document.querySelectorAll('#rounds tbody tr')].map(r => r.children[3].textContent)")
        if cells != [str(r["pages_sent"]) for r in st["rounds"]]:
            fail(f"rounds' pages sent shown {cells}, stats {[r['pages_sent'] for r in st['rounds']]}")
    points = b.js("const p = document.querySelector('#bytes-chart polyline'); return p ? p.getAttribute('points').split(' ').length : 0")
    if points < 2:
        fail(f"the bytes-over-time chart has {points} points")
    check_postcopy(b, mode, st, png_dir)
    b.wait(f"return !!document.querySelector(\"#history tr[data-id='{mid}'] td.downtime\")", 10, "the history row")
    hist = b.js(f"const r = document.querySelector(\"#history tr[data-id='{mid}']\"); "
                "return [r.querySelector('td.mode').textContent, r.querySelector('td.state').textContent, r.querySelector('td.downtime').textContent]")
    if hist != [mode, "done", want_down]:
        fail(f"history row {hist}")
    bar = b.js(f"const r = document.querySelector(\"#downtime-chart rect.bar[data-id='{mid}']\"); "
               "return r && [r.getAttribute('data-mode'), +r.getAttribute('data-ms'), +r.getAttribute('height')]")
    if not bar or bar[0] != mode or abs(bar[1] - st["downtime_ms"]) > 1e-6 or bar[2] <= 0:
        fail(f"downtime chart bar {bar}")
    bars = b.js("return document.querySelectorAll('#downtime-chart rect.bar').length")
    done = sum(1 for x in http("GET", f"{ui}/api/migrations")["migrations"] if x["state"] == "done")
    if bars != done:
        fail(f"{bars} bars for {done} finished migrations")
    png = base64.b64decode(b.cmd("GET", f"/element/{b.find('#downtime-chart svg')}/screenshot"))
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 1000:
        fail("the chart's screenshot is not a PNG")
    open(f"{png_dir}/downtime-chart.png", "wb").write(png)
    open(f"{png_dir}/page-{mode}.png", "wb").write(base64.b64decode(b.cmd("GET", "/screenshot")))
    print(json.dumps({"id": mid, "mode": mode, "downtime_ms": st["downtime_ms"], "rounds": len(st["rounds"]),
                      "click_to_done_ms": (time.time() - t0) * 1e3, "total_ms": st["total_ms"],
                      "post_ms": float(b.js("return document.body.dataset.postMs")), "ui_start_ms": m["ui_start_ms"],
                      "bars": bars}))

def check_postcopy(b, mode, st, png_dir):
    """Post-copy's live view: its last numbers are the stats' totals (pages
    sent by kind, faults served), its charts have a point per sample of the
    stats' series; other modes do not show it."""
    shown = not b.js("return document.querySelector('#postcopy').hidden")
    if mode != "postcopy":
        if shown:
            fail(f"{mode}: the post-copy view is shown")
        return
    if not shown:
        fail("the post-copy view is hidden")
    pc = st["postcopy"]
    d = b.js("return Object.assign({}, document.querySelector('#pc-summary').dataset)")
    want = {"pages": pc["pages_total"], "pagesTotal": pc["pages_total"], "urgent": pc["pages_urgent"],
            "readahead": pc["pages_readahead"], "bulk": pc["pages_bulk"], "faults": pc["faults"],
            "points": len(pc["series"]["samples"])}
    got = {k: int(d.get(k, -1)) for k in want}
    if got != want or d.get("final") != "true":
        fail(f"the post-copy view says {d}, the stats {want}")
    n = len(pc["series"]["samples"])
    for chart in ("#pc-pages-chart", "#pc-faults-chart"):
        pts = b.wait(f"const p = document.querySelector('{chart} polyline.series'); "
                     f"const n = p ? p.getAttribute('points').split(' ').length : 0; return n === {n} ? n : 0",
                     10, f"{n} points in {chart}")
        if pts != n:
            fail(f"{chart}: {pts} points for {n} samples")
    png = base64.b64decode(b.cmd("GET", f"/element/{b.find('#postcopy')}/screenshot"))
    open(f"{png_dir}/postcopy-live.png", "wb").write(png)

def crowd(b, ui, pid, min_count):
    load_ms = b.load(ui + "/")
    count = int(b.js("return document.body.dataset.treeCount"))
    rows = b.js("return document.querySelectorAll('#tree li').length")
    if count < min_count or rows != count:
        fail(f"{count} processes listed, {rows} rows, expected at least {min_count}")
    tree_ms = float(b.js("return document.body.dataset.treeMs"))
    search_ms = b.js("""const t = performance.now(); const s = document.querySelector('#search');
        s.value = String(arguments[0]); filter(); return performance.now() - t;""", pid)
    shown = b.js("return document.querySelectorAll('#tree li:not(.filtered)').length")
    if not b.js(f"return !document.querySelector(\"#tree li[data-pid='{pid}']\").classList.contains('filtered')") or shown >= rows:
        fail(f"searching {pid} shows {shown} of {rows}")
    t0 = time.time()
    b.click(f"#tree li[data-pid='{pid}'] > .row")
    b.wait("return document.querySelector('#details-pid')?.textContent === String(arguments[0])", 10, "details", pid)
    details_ms = (time.time() - t0) * 1e3
    # the main thread is free: a frame comes within 100 ms
    frame_ms = b.cmd("POST", "/execute/async", {"script": """const done = arguments[arguments.length - 1];
        const t = performance.now(); requestAnimationFrame(() => done(performance.now() - t));""", "args": []})
    out = {"processes": count, "load_ms": load_ms, "tree_ms": tree_ms, "search_ms": search_ms,
           "details_ms": details_ms, "frame_ms": frame_ms}
    print(json.dumps(out))
    budget = {"load_ms": 3000, "tree_ms": 2000, "search_ms": 200, "details_ms": 1500, "frame_ms": 100}
    over = {k: (out[k], v) for k, v in budget.items() if out[k] > v}
    if over:
        fail(f"not responsive with {count} processes: {over}")

def main():
    what, driver, ui = sys.argv[1:4]
    b = Browser(driver)
    try:
        if what == "migrate":
            migrate(b, ui, int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7])
        else:
            crowd(b, ui, int(sys.argv[4]), int(sys.argv[5]))
    finally:
        b.quit()

main()
