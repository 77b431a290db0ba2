/* charts.js — ferry ui's charts as plain SVG, made here (no library, no
 * network): a line over time (bytes sent during a migration) and bars
 * grouped by mode (the downtime of each migration). */
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = { "precopy": "#2a9d8f", "stop-and-copy": "#e76f51", "postcopy": "#457b9d", "hybrid": "#8d6a9f" };
  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  /* a round maximum for the axis: 1, 2, 5 x 10^n */
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  function frame(w, h, pad, yMax, yLabel, fmt) {
    const svg = el("svg", { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img" });
    svg.appendChild(el("line", { class: "axis", x1: pad.l, y1: pad.t, x2: pad.l, y2: h - pad.b }));
    svg.appendChild(el("line", { class: "axis", x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b }));
    for (let i = 0; i <= 4; i++) {
      const y = h - pad.b - (h - pad.t - pad.b) * i / 4;
      svg.appendChild(el("line", { x1: pad.l - 3, y1: y, x2: w - pad.r, y2: y, stroke: "#eee" }));
      svg.appendChild(el("text", { x: pad.l - 5, y: y + 4, "text-anchor": "end" }, fmt(yMax * i / 4)));
    }
    svg.appendChild(el("text", { x: 4, y: 12 }, yLabel));
    return svg;
  }
  /* points: [{t: ms, v: value}] */
  function line(container, points, opts) {
    const w = opts.width || 460, h = opts.height || 180, pad = { l: 56, r: 10, t: 18, b: 28 };
    const tMax = niceMax(points.length ? points[points.length - 1].t : 1);
    const vMax = niceMax(Math.max(1, ...points.map(p => p.v)));
    const svg = frame(w, h, pad, vMax, opts.yLabel, opts.fmt);
    const x = t => pad.l + (w - pad.l - pad.r) * t / tMax, y = v => h - pad.b - (h - pad.t - pad.b) * v / vMax;
    for (let i = 0; i <= 4; i++)
      svg.appendChild(el("text", { x: x(tMax * i / 4), y: h - pad.b + 14, "text-anchor": "middle" }, Math.round(tMax * i / 4) + ""));
    svg.appendChild(el("text", { x: w - pad.r, y: h - 2, "text-anchor": "end" }, opts.xLabel));
    svg.appendChild(el("polyline", { class: "series", fill: "none", stroke: "#1d3557", "stroke-width": 2,
      points: points.map(p => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ") }));
    for (const m of opts.marks || [])
      svg.appendChild(el("line", { x1: x(m.t), x2: x(m.t), y1: pad.t, y2: h - pad.b, stroke: m.color || "#e76f51", "stroke-dasharray": "3,3" }));
    container.replaceChildren(svg);
  }
  /* items: [{id, mode, ms, label}], drawn grouped by mode, one bar each */
  function barsByMode(container, items, opts) {
    const modes = [...new Set(items.map(i => i.mode))].sort();
    const n = items.length + Math.max(0, modes.length - 1);
    const bw = 28, gap = 8, pad = { l: 60, r: 12, t: 22, b: 40 };
    const w = Math.max(420, pad.l + pad.r + 120 + n * (bw + gap)), h = 240;
    const vMax = niceMax(Math.max(1, ...items.map(i => i.ms)));
    const svg = frame(w, h, pad, vMax, "downtime (ms)", v => v >= 100 ? v.toFixed(0) : v.toFixed(1));
    svg.setAttribute("aria-label", opts.title);
    const y = v => h - pad.b - (h - pad.t - pad.b) * v / vMax;
    let slot = 0;
    modes.forEach((mode, mi) => {
      for (const it of items.filter(i => i.mode === mode)) {
        const x = pad.l + gap + slot * (bw + gap);
        const bar = el("rect", { class: "bar", x, y: y(it.ms), width: bw, height: Math.max(1, h - pad.b - y(it.ms)),
          fill: COLORS[mode] || "#999", "data-id": it.id, "data-mode": mode, "data-ms": it.ms });
        bar.appendChild(el("title", {}, `#${it.id} ${it.label}: ${it.ms.toFixed(1)} ms (${mode})`));
        svg.appendChild(bar);
        svg.appendChild(el("text", { x: x + bw / 2, y: y(it.ms) - 3, "text-anchor": "middle" }, it.ms.toFixed(it.ms >= 100 ? 0 : 1)));
        svg.appendChild(el("text", { x: x + bw / 2, y: h - pad.b + 12, "text-anchor": "middle" }, "#" + it.id));
        slot++;
      }
      if (mi < modes.length - 1) slot++;
      /* the legend, one line per mode */
      svg.appendChild(el("rect", { x: w - pad.r - 110, y: pad.t + 2 + 14 * mi, width: 10, height: 10, fill: COLORS[mode] || "#999" }));
      svg.appendChild(el("text", { class: "mode", x: w - pad.r - 96, y: pad.t + 11 + 14 * mi }, mode));
    });
    svg.appendChild(el("text", { x: pad.l, y: h - 6 }, opts.title));
    if (!items.length)
      svg.appendChild(el("text", { x: w / 2, y: h / 2, "text-anchor": "middle" }, "no finished migration yet"));
    container.replaceChildren(svg);
  }
  return { line, barsByMode };
})();
