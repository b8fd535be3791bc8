#!/usr/bin/env python3
"""`arena report` end to end, as a person would use it, on CPU.

Two tiny training runs on the real data (LMSYS 3-class with model names; Auto-J binary with
train.swap = both, so its test split is also scored B-A), then `arena report` of both overlaid:
  page     index.html names every chart; every <img> is a file beside it and a valid PNG
  browser  headless Chromium (Debian's `chromium`, installed when missing) loads the page without
           console errors, every image decodes (naturalWidth > 0), and the screenshot is not blank
  bad      a run without metrics.jsonl, a metrics.jsonl cut mid-line (a killed run), a --data file
           that is not the run's, a run directory that does not exist: each named, the rest drawn
Standard library only. Usage: report_check.py ARENA_BINARY
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ARENA = os.path.abspath(sys.argv[1])
SOURCE = os.environ.get("ARENA_SOURCE_DIR", os.getcwd())
SHARED = os.environ.get("ARENA_SHARED_DIR", os.path.join(SOURCE, "..", "shared"))
TOKENIZER = os.path.join(SHARED, "gemma", "tokenizer.model")
LMSYS = os.path.join(SHARED, "data", "lmsys-arena-train-head1000.csv")
AUTOJ = os.path.join(SHARED, "data", "autoj-pairwise.jsonl")

# A small Gemma-2 shape (as tests/launch/train_checks.py): seconds per run.
BASE = [
    "train", "-c", os.path.join(SOURCE, "configs", "cpu-tiny.toml"), "--tokenizer", TOKENIZER,
    "--model.hidden_size", "32", "--model.num_layers", "2", "--model.num_heads", "2",
    "--model.num_kv_heads", "1", "--model.head_dim", "16", "--model.intermediate_size", "64",
    "--lora.first_layer", "0", "--lora.rank", "4", "--max-len", "192", "--train.threads", "1",
    "--steps", "24", "--train.eval_every", "8", "--train.log_every", "8",
    "--train.tensorboard", "false",  # the report reads metrics.jsonl; TensorBoard has its own test
]
# Every chart's title, as the page names it (launch/report_sections.cpp).
CHARTS = ["Loss", "Accuracy", "Learning rate", "Gradient norm", "Tokens per second",
          "Token lengths before truncation", "Label balance", "Win rate per model",
          "Winner against length difference", "Confusion matrix", "Reliability diagram", "Accuracy by length",
          "Swap consistency"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(args, check=True, timeout=300):
    t0 = time.time()
    p = subprocess.run([ARENA] + args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        fail(f"arena {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p, time.time() - t0


def png_size(path):
    """(width, height) of a PNG, checking its signature, IHDR and every chunk's CRC."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path}: not a PNG (signature {data[:8]!r})")
    pos, size = 8, None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            fail(f"{path}: chunk {kind!r} at byte {pos} has a bad CRC")
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        if kind == b"IEND":
            return size
        pos += 12 + length
    fail(f"{path}: no IEND chunk (truncated PNG)")


def png_pixels(path):
    """Decoded 8-bit RGB(A) rows of a non-interlaced PNG (what Chromium writes), standard library only."""
    with open(path, "rb") as f:
        data = f.read()
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = ihdr
    if depth != 8 or color not in (2, 6) or interlace:
        fail(f"{path}: unexpected PNG layout (depth {depth}, colour type {color}, interlace {interlace})")
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def train(out, extra):
    _, seconds = run(BASE + ["--out", out] + extra)
    for name in ("metrics.jsonl", "config.toml", "split.json", "test_predictions.csv"):
        if not os.path.isfile(os.path.join(out, name)):
            fail(f"{out}: training left no {name}")
    print(f"trained {os.path.basename(out)} in {seconds:.1f} s")


def check_page(report_dir, want_charts):
    page = os.path.join(report_dir, "index.html")
    with open(page) as f:
        html = f.read()
    if "http://" in html or "https://" in html:
        fail(f"{page} refers to the network")
    for title in want_charts:
        if f'alt="{title}' not in html:
            fail(f"{page}: no drawn chart titled '{title}'")
    images = re.findall(r'<img src="([^"]+)"', html)
    for name in images:
        w, h = png_size(os.path.join(report_dir, name))
        if w < 100 or h < 100:
            fail(f"{name}: {w}x{h} pixels")
    return page, html, images


def ensure_chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return name
    print("report_check: installing Debian's chromium for the browser check (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env, capture_output=True)
    p = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env,
                       capture_output=True, text=True)
    if p.returncode != 0 or not shutil.which("chromium"):
        fail("the browser check needs Debian's chromium and it could not be installed (no network or apt lock?): "
             f"apt-get install chromium exited {p.returncode}: {p.stderr.strip()[-400:]}")
    return "chromium"


def check_browser(report_dir, images, shot):
    chromium = ensure_chromium()
    # A copy of the page with a probe that records, once everything has loaded, how each image decoded.
    with open(os.path.join(report_dir, "index.html")) as f:
        html = f.read()
    probe = ("<script>window.addEventListener('load', () => { document.body.setAttribute('data-images', "
             "Array.from(document.images).map(i => (i.complete && i.naturalWidth > 0 ? 'ok:' : 'BROKEN:') + "
             "i.getAttribute('src')).join(' ')); });</script>")
    probe_page = os.path.join(report_dir, "browser_probe.html")
    with open(probe_page, "w") as f:
        f.write(html.replace("</body>", probe + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             "--user-data-dir=" + os.path.join(report_dir, ".chromium"), "--virtual-time-budget=10000"]
    t0 = time.time()
    p = subprocess.run([chromium] + flags + ["--enable-logging=stderr", "--v=0", "--dump-dom",
                                             "file://" + probe_page], capture_output=True, text=True, timeout=120)
    os.remove(probe_page)
    m = re.search(r'data-images="([^"]*)"', p.stdout)
    if p.returncode != 0 or not m:
        fail(f"chromium --dump-dom exited {p.returncode} without the page's image probe\n{p.stderr[-2000:]}")
    states = m.group(1).split()
    broken = [s for s in states if not s.startswith("ok:")]
    if len(states) != len(images) or broken:
        fail(f"chromium: {len(states)} images on the page, {len(images)} expected; not decoded: {broken}")
    console = [line for line in p.stderr.splitlines() if "CONSOLE" in line or "ERR_FILE_NOT_FOUND" in line]
    if console:
        fail("chromium console errors:\n" + "\n".join(console))
    # The screenshot of the page as a person sees it: not blank, charts in colour.
    p = subprocess.run([chromium] + flags + ["--screenshot=" + shot, "--window-size=1280,2400",
                                             "file://" + os.path.join(report_dir, "index.html")],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or not os.path.isfile(shot):
        fail(f"chromium --screenshot exited {p.returncode}\n{p.stderr[-2000:]}")
    if os.environ.get("ARENA_REPORT_SCREENSHOT"):  # keep it (the README's screenshot is made so)
        shutil.copy(shot, os.environ["ARENA_REPORT_SCREENSHOT"])
    # Text alone is grey; the charts' bars, lines and points are coloured (a channel spread > 60).
    w, h, bpp, rows = png_pixels(shot)
    colours, non_white, coloured, total = set(), 0, 0, 0
    for row in rows[::2]:
        for x in range(0, w * bpp, 2 * bpp):
            px = row[x:x + 3]
            colours.add(px)
            non_white += px != b"\xff\xff\xff"
            coloured += max(px) - min(px) > 60
            total += 1
    print(f"chromium: {len(states)} images decoded, no console errors; screenshot {w}x{h}: {len(colours)} colours, "
          f"{100 * non_white / total:.1f} % non-white, {100 * coloured / total:.2f} % coloured ({time.time() - t0:.1f} s)")
    if len(colours) < 50 or non_white < 0.02 * total or coloured < 0.005 * total:
        fail(f"the screenshot {shot} shows no charts: {len(colours)} colours, {100 * non_white / total:.1f} % "
             f"non-white and {100 * coloured / total:.2f} % coloured pixels (a blank or text-only page)")


def main():
    tmp = tempfile.mkdtemp(prefix="report_check_")
    try:
        t0 = time.time()
        lmsys, autoj = os.path.join(tmp, "lmsys-3class"), os.path.join(tmp, "autoj-swap")
        train(lmsys, ["--data", LMSYS, "--labels", "3class", "--model.num_labels", "3"])
        train(autoj, ["--data", AUTOJ, "--train.swap", "both"])

        # Both runs overlaid: every chart drawn, no notes but the expected one.
        p, seconds = run(["report", lmsys, autoj])
        report_dir = os.path.join(lmsys, "report")
        page, html, images = check_page(report_dir, CHARTS)
        m = re.search(r"\((\d+) of (\d+) charts drawn", p.stdout)
        if not m or m.group(1) != m.group(2):
            fail(f"not every chart was drawn: {p.stdout}\n{p.stderr}")
        if "no swap consistency" not in p.stderr:  # the LMSYS run did not train with swap
            fail(f"the LMSYS run's missing swap scores are not named:\n{p.stderr}")
        print(f"report of 2 runs: {len(images)} charts, {m.group(1)} drawn, in {seconds:.1f} s")
        check_browser(report_dir, images, os.path.join(tmp, "screenshot.png"))

        # A run without metrics.jsonl: named; the data and test charts are still drawn.
        bare = os.path.join(tmp, "no-metrics")
        shutil.copytree(lmsys, bare, ignore=shutil.ignore_patterns("report", "checkpoints"))
        os.remove(os.path.join(bare, "metrics.jsonl"))
        p, _ = run(["report", bare])
        if not re.search(r"no-metrics/metrics.jsonl: no such file", p.stderr):
            fail(f"a missing metrics.jsonl is not named:\n{p.stderr}")
        check_page(os.path.join(bare, "report"), ["Token lengths before truncation", "Confusion matrix"])

        # A run killed mid-line: the cut-off line is named, the rest drawn.
        cut = os.path.join(tmp, "cut-off")
        shutil.copytree(lmsys, cut, ignore=shutil.ignore_patterns("report", "checkpoints"))
        metrics = os.path.join(cut, "metrics.jsonl")
        with open(metrics) as f:
            lines = f.readlines()
        keep = len(lines) // 2
        with open(metrics, "w") as f:
            f.writelines(lines[:keep])
            f.write(lines[keep][:len(lines[keep]) // 2])
        p, _ = run(["report", cut])
        if f"metrics.jsonl line {keep + 1} is cut off: ignored" not in p.stderr:
            fail(f"the cut-off line {keep + 1} is not named:\n{p.stderr}")
        check_page(os.path.join(cut, "report"), ["Loss", "Accuracy", "Confusion matrix"])

        # A data file that is not the run's: named, the training and test charts still drawn.
        p, _ = run(["report", autoj, "--data", LMSYS, "--out", os.path.join(tmp, "mismatch")])
        if not re.search(r"lmsys-arena-train-head1000.csv: \d+ of the run's \d+ rows \(split.json\) are not in this "
                         r"file .*it is not the data autoj-swap trained on", p.stderr):
            fail(f"a --data file that does not match the run is not named:\n{p.stderr}")
        check_page(os.path.join(tmp, "mismatch"), ["Loss", "Confusion matrix", "Token lengths before truncation"])

        # A run directory that does not exist: an error naming it.
        p, _ = run(["report", os.path.join(tmp, "nowhere")], check=False)
        if p.returncode == 0 or "nowhere: not a directory" not in p.stderr:
            fail(f"a missing run directory: exit {p.returncode}\n{p.stderr}")
        print(f"bad input named (no metrics, cut-off line, foreign data, missing dir); total {time.time() - t0:.1f} s")
        print("PASS")
    finally:
        if not os.environ.get("ARENA_REPORT_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
