"""Headless Chromium for layout facts: open a page at a viewport width and measure what a
reader would see (page overflow, elements past the right edge, chart labels colliding)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Run in the page after layout; posts its findings to the frame that holds the page.
MEASURE = """
<script>
(function () {
  const vw = document.documentElement.clientWidth;
  const facts = {viewport: vw, scrollWidth: document.documentElement.scrollWidth,
                 wide: [], overlaps: [], labels: 0};
  for (const el of document.body.querySelectorAll('*')) {
    const inScroller = el.parentElement && el.parentElement.closest('.scroll');
    const r = el.getBoundingClientRect();
    if (inScroller || r.width === 0 || el.closest('svg')) continue;
    if (r.right > vw + 1) facts.wide.push(el.tagName.toLowerCase() + '.' + el.className + ' right=' + Math.round(r.right));
  }
  for (const svg of document.querySelectorAll('svg')) {
    const sr = svg.getBoundingClientRect();
    if (sr.right > vw + 1 && !(svg.parentElement && svg.parentElement.closest('.scroll')))
      facts.wide.push('svg right=' + Math.round(sr.right));
    const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    facts.labels += texts.length;
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i][1], b = texts[j][1];
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
        facts.overlaps.push(texts[i][0] + ' / ' + texts[j][0]);
    }
  }
  parent.postMessage(JSON.stringify(facts), '*');
})();
</script>
"""


def find_browser() -> str | None:
    found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    return found or None


# Chromium's window is at least 500 px wide; a frame of the exact width is the viewport.
FRAME = """<!doctype html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:4000px;border:0"></iframe>
<pre id="layout-facts"></pre>
<script>addEventListener('message', e => {{
  document.getElementById('layout-facts').textContent = e.data; }});</script>
</body></html>"""


def layout_facts(browser: str, page: Path, width: int, work: Path,
                 screenshot: Path | None = None) -> dict:
    """Open `page` in a frame `width` CSS pixels wide; the facts MEASURE found there."""
    probe = work / f"{page.stem}-{width}.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                     encoding="utf-8")
    frame = work / f"frame-{page.stem}-{width}.html"
    frame.write_text(FRAME.format(src=probe.name, width=width), encoding="utf-8")
    flags = [browser, *FLAGS, "--hide-scrollbars", f"--user-data-dir={work / f'profile-{width}'}",
             f"--window-size={max(width, 500) + 20},1000"]
    dom = subprocess.run([*flags, "--virtual-time-budget=5000", "--dump-dom", frame.as_uri()],
                         capture_output=True, text=True, timeout=90).stdout
    match = re.search(r'<pre id="layout-facts">(.*?)</pre>', dom, re.S)
    assert match, f"the page did not render in chromium: {dom[:300]!r}"
    if screenshot is not None:
        screenshot.parent.mkdir(exist_ok=True)
        screenshot.unlink(missing_ok=True)
        subprocess.run([*flags, f"--screenshot={screenshot}", frame.as_uri()],
                       capture_output=True, timeout=90)
    return json.loads(html.unescape(match.group(1)))
