/* logview.js: a job's log, virtualised. The text is kept as a few large strings (chunks)
 * with an index of where each line starts; only the rows on screen exist in the DOM (about
 * fifty elements, reused), never a node a line. A long log is never downloaded whole: the
 * page tells the view how many lines the log has (reserve), the view keeps a placeholder
 * chunk per BLOCK lines and fetches a chunk's lines by range (opts.fetchLines) when it comes
 * on screen, at most two fetches at a time, newest first, skipping chunks scrolled past.
 * The text held is bounded (opts.budget characters): past it, the chunks farthest from the
 * screen drop their text again, so a 1 GiB log costs neither 1 GiB of the tab nor of the
 * wire. Logs taller than a browser can scroll (~33M px) are scrolled proportionally. GitLab's section_start /
 * section_end markers become collapsible rows with their duration; GitLab Runner's
 * per-line timestamps (FF_TIMESTAMPS) are shown in a column of their own. */
"use strict";
(function () {
  const LH = 18; /* px per row; app.css .log .row has the same height */
  const MAX_PX = 8000000; /* tallest scroll area we make */
  const MERGE = 1 << 16; /* small appended chunks (a live tail) are merged up to this */
  const SECTION = /^section_(start|end):(\d+):([A-Za-z0-9_.-]+)(\[[^\]]*\])?/;
  const BUDGET = 16 << 20; /* characters of log text held by default */
  const BLOCK = 5000; /* lines per placeholder chunk (one range request each) */
  const FETCHES = 2; /* range requests in flight at once */
  const LINE_MAX = 1 << 20; /* characters kept of a line that never ends (the rest dropped) */
  const SHOW = 8192; /* characters of a line drawn (a row shows far fewer) */
  const CUT = " … [line cut here: the raw log has all of it]";
  /* GitLab Runner's timestamped line: RFC 3339 UTC time, stream number, O/E, + when the line
   * continues the previous one */
  const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) [0-9a-f]{2}[OE]\+?(?: |$)/;

  class LogView {
    constructor(box, opts) {
      this.opts = opts || {};
      /* {first, count, text and starts:Uint32Array (null while not held), loading} */
      this.chunks = [];
      this.queue = []; /* chunks to fetch, newest wish last */
      this.inflight = 0;
      this.vis = [0, 0]; /* lines on screen [a, b) at the last draw */
      this.ends = []; /* section ends seen before their start was fetched */
      this.nlines = 0;
      this.held = 0; /* characters of text held */
      this.budget = this.opts.budget || BUDGET;
      this.partial = "";
      this.sections = []; /* {name, start, end, t0, t1, collapsed} */
      this.open = []; /* sections not yet ended */
      this.hidden = []; /* [a, b] line ranges hidden by collapsed sections, sorted */
      this.follow = !!this.opts.follow;
      this.mark = -1; /* highlighted line (deep link, search match) */
      this.box = box;
      box.classList.add("log");
      box.tabIndex = 0;
      box.setAttribute("role", "log");
      this.pane = document.createElement("div");
      this.pane.className = "pane";
      this.spacer = document.createElement("div");
      this.spacer.className = "spacer";
      box.append(this.pane, this.spacer);
      this.rows = [];
      this.programmatic = false;
      box.addEventListener("scroll", () => this.onScroll());
      box.addEventListener("click", (e) => this.onClick(e));
      box.addEventListener("keydown", (e) => this.onKey(e));
      new ResizeObserver(() => this.layout()).observe(box);
      this.layout();
    }

    /* --- data --------------------------------------------------------------------- */

    append(text) {
      if (!text) return;
      if (this.cutting) { /* the rest of an overlong line is dropped, up to its newline */
        const nl = text.indexOf("\n");
        if (nl < 0) return;
        this.cutting = false;
        text = text.slice(nl);
      }
      let s = this.partial + text;
      const cut = s.lastIndexOf("\n");
      if (cut < 0) {
        if (s.length > LINE_MAX) { s = s.slice(0, LINE_MAX) + CUT; this.cutting = true; }
        this.partial = s;
        this.changed();
        return;
      }
      this.partial = s.slice(cut + 1);
      s = s.slice(0, cut + 1);
      const last = this.chunks[this.chunks.length - 1];
      if (last && last.text && last.text.length < MERGE && s.length < MERGE) {
        this.nlines = last.first;
        this.chunks.pop();
        this.held -= last.text.length;
        s = last.text + s;
      }
      const first = this.nlines;
      const starts = [];
      for (let i = 0; i < s.length; ) {
        starts.push(i);
        const nl = s.indexOf("\n", i);
        i = nl < 0 ? s.length : nl + 1;
      }
      const chunk = { text: s, starts: Uint32Array.from(starts), first, count: starts.length, loading: false };
      this.chunks.push(chunk);
      this.held += s.length;
      this.nlines = first + starts.length;
      this.scanSections(chunk);
      this.evict();
      this.changed();
    }

    /* Makes room for lines up to N (0-based, exclusive) that are not fetched yet: placeholder
     * chunks of BLOCK lines, fetched when shown. Only between whole lines (no partial). */
    reserve(n) {
      if (this.partial || n <= this.nlines) return;
      for (let first = this.nlines; first < n; first += BLOCK)
        this.chunks.push({ text: null, starts: null, first, count: Math.min(BLOCK, n - first), loading: false });
      this.nlines = n;
      this.changed();
    }

    /* Drops the text of the chunks farthest from the screen while more than the budget is
     * held (never the last chunk, which a live tail grows; never without a way back). */
    evict() {
      if (!this.opts.fetchLines || this.held <= this.budget) return;
      const here = this.rowToLine(Math.floor(this.topRow()));
      const order = this.chunks.slice(0, -1).filter((c) => c.text && !c.loading)
        .sort((a, b) => Math.abs(b.first - here) - Math.abs(a.first - here));
      for (const c of order) {
        if (this.held <= this.budget) break;
        if (c.first <= here && here < c.first + c.count) continue; /* on screen */
        this.held -= c.text.length;
        c.text = null;
        c.starts = null;
      }
    }

    /* Asks for a chunk's text (fetched by its line range, then redrawn). The newest wish
     * goes first; one scrolled off screen before its turn is not fetched. */
    load(c) {
      if (c.loading || c.text || !this.opts.fetchLines) return;
      const k = this.queue.indexOf(c);
      if (k >= 0) this.queue.splice(k, 1);
      this.queue.push(c);
      this.pump();
    }
    pump() {
      while (this.inflight < FETCHES && this.queue.length) {
        const c = this.queue.pop();
        if (c.text || c.loading) continue;
        if (c.first + c.count <= this.vis[0] || c.first >= this.vis[1]) continue; /* scrolled past */
        this.fetch(c);
      }
    }
    fetch(c) {
      c.loading = true;
      this.inflight++;
      const done = () => { c.loading = false; this.inflight--; this.pump(); };
      this.opts.fetchLines(c.first, c.count).then((text) => {
        done();
        if (c.text) return;
        const starts = [];
        for (let i = 0; i < text.length && starts.length < c.count; ) {
          starts.push(i);
          const nl = text.indexOf("\n", i);
          i = nl < 0 ? text.length : nl + 1;
        }
        if (starts.length !== c.count) return; /* the server answered other lines */
        c.starts = Uint32Array.from(starts);
        c.text = text;
        this.held += text.length;
        /* sections found in it may hide lines: the line at the top stays at the top */
        const top = this.rowToLine(Math.floor(this.topRow())), before = this.nrows;
        this.scanSections(c);
        if (this.nrows !== before && !this.follow) this.scrollToRow(this.lineToRow(top), "top");
        this.evict();
        for (const r of this.rows) r.line = -2;
        this.changed();
      }, done);
    }
    scanSections(chunk) {
      const t = chunk.text;
      for (let i = t.indexOf("section_"); i >= 0; i = t.indexOf("section_", i + 8)) {
        const m = SECTION.exec(t.slice(i, i + 300)); /* a marker right here, not one further on */
        if (!m) continue;
        const line = chunk.first + this.lineIn(chunk, i);
        if (this.sections.some((x) => x.start === line) || this.open.some((x) => x.start === line)) continue;
        /* chunks arrive in any order: an end is matched with the nearest open start of its
         * name above it, a start with the nearest end seen below it */
        if (m[1] === "start") {
          if (this.sections.some((x) => x.start === line)) continue;
          const sec = { name: m[3], start: line, end: -1, t0: +m[2], t1: 0, collapsed: /collapsed=true/.test(m[4] || "") };
          let k = -1;
          this.ends.forEach((e, i) => { if (e.name === sec.name && e.line > line && (k < 0 || e.line < this.ends[k].line)) k = i; });
          if (k < 0) { this.open.push(sec); continue; }
          const e = this.ends.splice(k, 1)[0];
          this.close(sec, e.line, e.t);
        } else {
          if (this.sections.some((x) => x.end === line) || this.ends.some((x) => x.line === line)) continue;
          let k = -1;
          this.open.forEach((o, i) => { if (o.name === m[3] && o.start < line && (k < 0 || o.start > this.open[k].start)) k = i; });
          if (k < 0) { this.ends.push({ name: m[3], line, t: +m[2] }); continue; }
          this.close(this.open.splice(k, 1)[0], line, +m[2]);
        }
      }
    }

    close(sec, line, t) {
      sec.end = line;
      sec.t1 = t;
      this.sections.push(sec);
      if (sec.collapsed) this.rehide();
    }

    lineIn(chunk, pos) {
      let lo = 0, hi = chunk.starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (chunk.starts[mid] <= pos) lo = mid; else hi = mid - 1;
      }
      return lo;
    }

    get total() { return this.nlines + (this.partial ? 1 : 0); }

    /* Line N (0-based) without its newline; null while its text is being fetched again. */
    line(n) {
      if (n === this.nlines) return this.partial;
      let lo = 0, hi = this.chunks.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.chunks[mid].first <= n) lo = mid; else hi = mid - 1;
      }
      const c = this.chunks[lo], k = n - c.first;
      if (!c || k >= c.count) return "";
      if (!c.text) { this.load(c); return null; }
      const end = k + 1 < c.starts.length ? c.starts[k + 1] : c.text.length;
      return c.text.slice(c.starts[k], end).replace(/\n$/, "");
    }

    sectionAt(line) { return this.sections.find((s) => s.start === line) || this.open.find((s) => s.start === line); }

    /* --- rows and lines (collapsed sections hide lines) ------------------------------- */

    rehide() {
      this.hidden = this.sections.filter((s) => s.collapsed && s.end > s.start).map((s) => [s.start + 1, s.end]).sort((a, b) => a[0] - b[0]);
      /* nested collapsed sections: keep the outer ranges */
      const merged = [];
      for (const r of this.hidden) {
        const m = merged[merged.length - 1];
        if (m && r[0] <= m[1]) m[1] = Math.max(m[1], r[1]); else merged.push(r.slice());
      }
      this.hidden = merged;
    }
    get nrows() { return this.total - this.hidden.reduce((n, r) => n + r[1] - r[0] + 1, 0); }
    rowToLine(row) {
      let line = row;
      for (const [a, b] of this.hidden) { if (a <= line) line += b - a + 1; else break; }
      return line;
    }
    lineToRow(line) {
      let row = line;
      for (const [a, b] of this.hidden) {
        if (line > b) row -= b - a + 1;
        else if (line >= a) { row -= line - a + 1; break; }
      }
      return row;
    }

    /* --- view --------------------------------------------------------------------- */

    layout() {
      const h = this.box.clientHeight || 400;
      const n = Math.ceil(h / LH) + 2;
      while (this.rows.length < n) {
        const row = document.createElement("div");
        row.className = "row";
        const no = document.createElement("a");
        no.className = "no";
        const tx = document.createElement("span");
        tx.className = "tx";
        const ts = document.createElement("span");
        ts.className = "ts";
        const du = document.createElement("span");
        du.className = "du";
        /* a section's fold, a button so that the keyboard reaches it (Tab, Enter, Space) */
        const tg = document.createElement("button");
        tg.type = "button";
        tg.className = "tg";
        tg.hidden = true;
        row.append(no, ts, tg, tx, du);
        this.pane.append(row);
        this.rows.push({ row, no, ts, tg, tx, du, line: -2, text: null });
      }
      this.changed();
    }

    height() { return Math.min(this.nrows * LH, MAX_PX); }

    changed() {
      if (this.pending) return;
      this.pending = requestAnimationFrame(() => {
        this.pending = 0;
        const h = this.height(), vh = this.box.clientHeight;
        this.spacer.style.height = Math.max(0, h - vh) + "px";
        if (this.follow) this.scrollToRow(this.nrows - 1, "bottom");
        this.draw();
        if (this.opts.onChange) this.opts.onChange(this);
      });
    }

    /* The first row on screen (fractional). */
    topRow() {
      const vh = this.box.clientHeight, h = this.height(), st = this.box.scrollTop;
      const visible = vh / LH;
      if (this.nrows * LH <= MAX_PX) return st / LH;
      const max = h - vh;
      return max > 0 ? (st / max) * Math.max(0, this.nrows - visible) : 0;
    }

    /* Scrolls so that ROW is at the bottom, at the top, or a third down the screen. */
    scrollToRow(row, where) {
      const vh = this.box.clientHeight, visible = vh / LH, bottom = where === "bottom";
      let top = bottom ? row - visible + 1 : where === "top" ? row : row - Math.floor(visible / 3);
      top = Math.max(0, Math.min(top, this.nrows - visible));
      let px;
      if (this.nrows * LH <= MAX_PX) px = top * LH;
      else px = (top / Math.max(1, this.nrows - visible)) * (this.height() - vh);
      this.programmatic = true;
      this.box.scrollTop = px;
      if (bottom) this.box.scrollTop = this.box.scrollHeight;
    }

    /* Shows line N (0-based), highlighted. */
    goto(n, highlight) {
      for (const s of this.sections) if (s.collapsed && n > s.start && n <= s.end) { s.collapsed = false; this.rehide(); }
      this.follow = false;
      if (highlight) this.mark = n;
      this.scrollToRow(this.lineToRow(n), "third");
      this.draw();
      if (this.opts.onFollow) this.opts.onFollow(false);
    }

    draw() {
      const top = this.topRow(), first = Math.floor(top), nrows = this.nrows;
      const shift = this.nrows * LH <= MAX_PX ? -(top - first) * LH : 0;
      this.pane.style.transform = `translateY(${shift}px)`;
      this.vis = [this.rowToLine(first), this.rowToLine(Math.min(nrows, first + this.rows.length))];
      this.queue = this.queue.filter((c) => !(c.first + c.count <= this.vis[0] || c.first >= this.vis[1]));
      const digits = String(this.total).length;
      this.pane.style.setProperty("--digits", digits + "ch");
      for (let i = 0; i < this.rows.length; i++) {
        const r = this.rows[i], row = first + i;
        if (row >= nrows) { r.row.hidden = true; r.line = -2; continue; }
        r.row.hidden = false;
        const line = this.rowToLine(row);
        let text = this.line(line);
        const sec = this.sectionAt(line);
        r.row.classList.toggle("mark", line === this.mark);
        r.row.classList.toggle("sec", !!sec);
        r.row.classList.toggle("closed", !!(sec && sec.collapsed));
        r.tg.hidden = !sec;
        if (sec) {
          r.tg.textContent = sec.collapsed ? "▸" : "▾";
          r.tg.setAttribute("aria-expanded", String(!sec.collapsed));
          r.tg.setAttribute("aria-label", (sec.collapsed ? "unfold" : "fold") + " section " + sec.name);
        }
        if (r.line === line && r.text === text) continue;
        r.line = line;
        r.text = text;
        r.no.textContent = line + 1;
        r.no.href = "#L" + (line + 1);
        r.no.id = "";
        r.row.classList.toggle("wait", text === null);
        /* a timestamped line: its UTC time of day in a column (the full stamp on hover) */
        const st = text ? STAMP.exec(text) : null;
        r.ts.textContent = st ? st[1].slice(11, 19) : "";
        r.ts.title = st ? st[1] : "";
        if (st) text = text.slice(st[0].length);
        window.SluiceAnsi.render(text === null ? "…" : text.length > SHOW ? text.slice(0, SHOW) + " …" : text, r.tx);
        r.du.textContent = sec && sec.t1 ? fmtDur(sec.t1 - sec.t0) : "";
      }
    }

    onScroll() {
      if (this.programmatic) { this.programmatic = false; }
      else {
        const atBottom = this.box.scrollTop + this.box.clientHeight >= this.box.scrollHeight - LH;
        if (this.follow !== atBottom) { this.follow = atBottom; if (this.opts.onFollow) this.opts.onFollow(atBottom); }
      }
      this.draw();
    }

    onClick(e) {
      const rowEl = e.target.closest(".row");
      if (!rowEl) return;
      const r = this.rows.find((x) => x.row === rowEl);
      if (!r) return;
      if (e.target.classList.contains("no")) {
        e.preventDefault();
        this.mark = r.line;
        history.replaceState(history.state, "", "#L" + (r.line + 1));
        this.draw();
        return;
      }
      const sec = this.sectionAt(r.line);
      if (sec) { sec.collapsed = !sec.collapsed; this.rehide(); this.changed(); }
    }

    onKey(e) {
      const pages = { PageDown: 1, PageUp: -1 };
      if (e.key === "End") { this.follow = true; this.changed(); e.preventDefault(); if (this.opts.onFollow) this.opts.onFollow(true); }
      else if (e.key === "Home") { this.goto(0, false); e.preventDefault(); }
      else if (e.key in pages || e.key === "ArrowDown" || e.key === "ArrowUp") {
        const vis = Math.floor(this.box.clientHeight / LH);
        const d = e.key in pages ? pages[e.key] * vis : e.key === "ArrowDown" ? 1 : -1;
        const top = Math.floor(this.topRow()) + d;
        this.follow = false;
        this.scrollToRow(Math.max(0, top), "top");
        this.draw();
        e.preventDefault();
      }
    }

    setFollow(on) { this.follow = on; this.changed(); }
  }

  function fmtDur(s) {
    if (s < 60) return s + "s";
    const m = Math.floor(s / 60);
    return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
  }

  LogView.CUT = CUT;
  LogView.LINE_MAX = LINE_MAX;
  window.SluiceLogView = LogView;
  window.SluiceFmtDur = fmtDur;
})();
