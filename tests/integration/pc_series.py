#!/usr/bin/env python3
"""pc_series.py STATS [SIDE]: checks post-copy's series over time in the last
JSON line of STATS (`ferry send` or `ferry receive` --stats-json): the points
are in time order from 0; each interval's pages are its urgent + read-ahead +
bulk ones and they add up to the "pages" total of the point; the intervals
add up to the post-copy totals (urgent + read-ahead = pages_requested, bulk =
pages_pushed, faults, bytes); a request brings at most one urgent page (at B
at least one in all); on the sender (SIDE send) the last point holds every
page. Prints one line (points, peak MiB/s) or the mismatch, exit 1."""
import json
import sys


def fail(msg):
    print("pc_series: " + msg)
    sys.exit(1)


def main():
    with open(sys.argv[1]) as f:
        lines = [l for l in f if l.strip()]
    side = sys.argv[2] if len(sys.argv) > 2 else "send"
    st = json.loads(lines[-1])
    pc = st.get("postcopy")
    if not pc or "series" not in pc:
        fail("no post-copy series in %s" % lines[-1][:300])
    pts = pc["series"]["samples"]
    if not pts or pts[0]["t_ms"] != 0:
        fail("the series does not start at 0: %s" % pts[:2])
    sums = dict(urgent=0, readahead=0, bulk=0, faults=0, bytes=0)
    t, peak = -1.0, 0.0
    for p in pts:
        if p["t_ms"] <= t:
            fail("t_ms %s after %s" % (p["t_ms"], t))
        for k in sums:
            sums[k] += p[k]
        if p["pages"] != sums["urgent"] + sums["readahead"] + sums["bulk"]:
            fail("point at %s ms: pages %d != the intervals' %d" % (p["t_ms"], p["pages"],
                                                                     sums["urgent"] + sums["readahead"] + sums["bulk"]))
        if t >= 0:
            peak = max(peak, p["bytes"] / ((p["t_ms"] - t) / 1e3) / (1 << 20))
        t = p["t_ms"]
    want = dict(urgent=pc["pages_urgent"], readahead=pc["pages_readahead"], bulk=pc["pages_bulk"],
                faults=pc["faults"], bytes=pc["bytes"])
    if sums != want:
        fail("the intervals add up to %s, the totals are %s" % (sums, want))
    if pc["pages_urgent"] + pc["pages_readahead"] != pc["pages_requested"] or pc["pages_bulk"] != pc["pages_pushed"]:
        fail("kinds %s do not match requested %d / pushed %d" % (want, pc["pages_requested"], pc["pages_pushed"]))
    # a page request is made for the page a fault is on: at most one urgent
    # page each, and at B (which asks only for a page still missing) at least
    # one in all when it asked at all
    if pc["pages_urgent"] > pc["requests"] or (side == "receive" and pc["requests"] and not pc["pages_urgent"]):
        fail("%d urgent pages for %d requests" % (pc["pages_urgent"], pc["requests"]))
    if side == "send" and pts[-1]["pages"] != pc["pages_total"]:
        fail("the last point has %d pages of %d" % (pts[-1]["pages"], pc["pages_total"]))
    print("%d points over %.0f ms, %d pages (%d urgent, %d read-ahead, %d bulk), %d faults, peak %.1f MiB/s"
          % (len(pts), t, pts[-1]["pages"], sums["urgent"], sums["readahead"], sums["bulk"], sums["faults"], peak))


main()
