#!/usr/bin/env python3
"""postcopy_plot.py IN.jsonl OUT.svg [TITLE]: post-copy's throughput over
time, as plain SVG (no plotting package): one line per run that has a
post-copy series ("postcopy":{"series":...} of `ferry send` or `ferry
receive --stats-json`; of the bench's lines, the receiver's: pages placed),
page bytes moved per interval in Mbit/s against ms since the process
started at the destination, with the faults per second below it. IN holds
either the bench's lines (migrate.sh: {"mode", "size_mib", "link",
"link_bps", "rate", ..., "send": STATS, "recv": STATS}; the mode names a
part turned off, e.g. postcopy-nopush) or stats lines themselves. A run's
link rate, when shaped, is drawn dashed. Prints what it drew; exits 1 if no
line had a series."""
import html
import json
import sys

COLORS = ["#1d3557", "#e76f51", "#2a9d8f", "#8d6a9f", "#e9c46a", "#457b9d", "#f4a261", "#264653"]
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 1000, 260, 64, 320, 24, 36


def nice(v):
    """A round axis maximum: 1, 2, 5 x 10^n."""
    if v <= 0:
        return 1
    p = 10 ** len(str(int(v))) / 10
    for m in (1, 2, 5, 10):
        if v <= m * p:
            return m * p
    return 10 * p


def runs(path):
    """(label, link_bps, [(t_ms, mbit_s, faults_s)]) for each line with a series."""
    out = []
    for line in open(path):
        if not line.strip():
            continue
        j = json.loads(line)
        st = j.get("recv", j.get("send", j))  # the bench's: pages placed at the destination
        pc = st.get("postcopy", {})
        pts = pc.get("series", {}).get("samples", [])
        if len(pts) < 2 or not pc.get("pages_total"):
            continue  # no post-copy phase (a hybrid run whose pause fit)
        if "mode" in j and "size_mib" in j:
            label = f'{j["mode"]} {j["size_mib"]} MiB, {j["link"]}, {j["rate"]} pages/s'
        else:
            label = " ".join(str(v) for v in (st.get("command"), st.get("mode"), "pid", st.get("pid")) if v)
        xy = [(0.0, 0.0, 0.0)]
        for a, b in zip(pts, pts[1:]):
            dt = (b["t_ms"] - a["t_ms"]) / 1e3
            if dt > 0:
                xy.append((b["t_ms"], b["bytes"] * 8 / dt / 1e6, b["faults"] / dt))
        out.append((label, j.get("link_bps", 0), xy))
    return out


def panel(y0, data, col, ylabel, limits):
    """One chart at height y0: column col of each run's points."""
    t_max = nice(max(p[0] for _, _, xy in data for p in xy))
    v_max = nice(max([p[col] for _, _, xy in data for p in xy] + limits))
    x = lambda t: PAD_L + (W - PAD_L - PAD_R) * t / t_max
    y = lambda v: y0 + H - PAD_B - (H - PAD_T - PAD_B) * v / v_max
    s = [f'<text x="4" y="{y0 + 14}">{html.escape(ylabel)}</text>',
         f'<line x1="{PAD_L}" y1="{y0 + PAD_T}" x2="{PAD_L}" y2="{y0 + H - PAD_B}" stroke="#888"/>',
         f'<line x1="{PAD_L}" y1="{y0 + H - PAD_B}" x2="{W - PAD_R}" y2="{y0 + H - PAD_B}" stroke="#888"/>']
    for i in range(5):
        v, t = v_max * i / 4, t_max * i / 4
        s.append(f'<line x1="{PAD_L}" y1="{y(v):.1f}" x2="{W - PAD_R}" y2="{y(v):.1f}" stroke="#eee"/>')
        s.append(f'<text x="{PAD_L - 5}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        s.append(f'<text x="{x(t):.1f}" y="{y0 + H - PAD_B + 14}" text-anchor="middle">{t:g}</text>')
    s.append(f'<text x="{W - PAD_R}" y="{y0 + H - 4}" text-anchor="end">ms since the start at the destination</text>')
    for i, (label, bps, xy) in enumerate(data):
        c = COLORS[i % len(COLORS)]
        pts = " ".join(f"{x(p[0]):.1f},{y(p[col]):.1f}" for p in xy)
        s.append(f'<polyline class="run" data-label="{html.escape(label)}" fill="none" stroke="{c}" stroke-width="1.5" points="{pts}"/>')
        if col == 1 and bps:
            s.append(f'<line class="link" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(bps / 1e6):.1f}" y2="{y(bps / 1e6):.1f}" '
                     f'stroke="{c}" stroke-dasharray="4,3"/>')
    return s


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: postcopy_plot.py IN.jsonl OUT.svg [TITLE]")
    data = runs(sys.argv[1])
    if not data:
        print(f"postcopy_plot: no post-copy series in {sys.argv[1]}")
        sys.exit(1)
    title = sys.argv[3] if len(sys.argv) > 3 else "ferry post-copy: throughput over time"
    rows = 2 * H + 30
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{rows}" font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{rows}" fill="#fff"/>',
         f'<text x="{W / 2}" y="14" text-anchor="middle" font-size="13">{html.escape(title)}</text>']
    links = [bps / 1e6 for _, bps, _ in data if bps]
    s += panel(20, data, 1, "page data sent (Mbit/s); dashed: the link", links)
    s += panel(20 + H, data, 2, "faults per second (send: requests served, receive: faults read)", [])
    for i, (label, _, _) in enumerate(data):
        yy = 40 + 16 * i
        s.append(f'<rect x="{W - PAD_R + 12}" y="{yy - 9}" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>')
        s.append(f'<text x="{W - PAD_R + 26}" y="{yy}">{html.escape(label)}</text>')
    s.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(s) + "\n")
    for label, _, xy in data:
        peak = max(p[1] for p in xy)
        print(f"postcopy_plot: {label}: {len(xy)} points over {xy[-1][0]:.0f} ms, peak {peak:.0f} Mbit/s")


main()
