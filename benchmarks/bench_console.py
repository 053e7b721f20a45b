"""Benchmark: console spectrum + waterfall update rate at 4096 bins, offscreen (frames/s; target >= 30).

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_console.py``

A frame is what the window's frame timer does: hand the sweeps that arrived to the spectrum
(current, max/min hold, average, floor and threshold lines) and to the waterfall (ring buffer,
one ``setImage``), then return to the event loop, where the scene paints. Each frame is checked
to have really rendered the waterfall image, so the figure is paints per second, not only data
updates. Three cases:

* widgets: the spectrum and waterfall docks alone (1400 x 350 px each), one sweep per frame;
* window: the whole main window (1600 x 1000 px, every dock shown), one sweep per frame;
* burst: the window with 10 sweeps per frame (a sensor faster than the screen: batching).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from coordination.protocol import Spectrum

N_BINS = 4096
SECONDS = 4.0
TARGET_FPS = 30.0


def sweeps(n: int) -> list[Spectrum]:
    rng = np.random.default_rng(0)
    f = np.arange(N_BINS)
    out = []
    for i in range(n):
        p = -112.0 + 2.0 * rng.standard_normal(N_BINS)
        p += 50.0 * np.exp(-0.5 * ((f - 1000 - (i % 200)) / 6.0) ** 2)  # a drifting carrier
        out.append(Spectrum("bench", i, "2026-11-25T12:00:00.000000Z", profile="wide", f_start_hz=400e6,
                            f_step_hz=12_500.0, power_dbm=p.astype(np.float32)))
    return out


def run(app: QApplication, frame, painted, seconds: float = SECONDS) -> tuple[float, float]:
    """(frames/s, share of frames whose waterfall image was really rendered)."""
    for _ in range(5):  # warm up (first paints allocate)
        frame()
        app.processEvents()
    n = rendered = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        frame()
        app.processEvents()  # the scene's dirty items are processed and painted here
        rendered += painted()
        n += 1
    return n / (time.perf_counter() - t0), rendered / max(n, 1)


def main() -> int:
    app = QApplication.instance() or QApplication([])
    from gui.app import MainWindow
    from gui.spectrum import SpectrumWidget
    from gui.waterfall import WaterfallWidget

    data = sweeps(256)
    k = [0]

    def next_batch(n: int) -> list[Spectrum]:
        out = [data[(k[0] + j) % len(data)] for j in range(n)]
        k[0] += n
        return out

    spec, wf = SpectrumWidget(), WaterfallWidget(rows=300)
    for w in (spec, wf):
        w.resize(1400, 350)
        w.show()

    def widgets_frame() -> None:
        batch = next_batch(1)
        spec.set_spectra(batch)
        wf.add_spectra(batch)

    fps_widgets, share_widgets = run(app, widgets_frame, lambda: wf.image.qimage is not None)
    spec.close()
    wf.close()

    with tempfile.TemporaryDirectory() as tmp:
        from gui.client import ServerClient

        # a client that is never started: no network, the frames are fed to the window directly
        client = ServerClient("tcp://127.0.0.1:9", "tcp://127.0.0.1:10")
        client.isRunning = lambda: True  # type: ignore[method-assign]
        client.request = lambda *a, **kw: 0  # type: ignore[method-assign]
        win = MainWindow(client=client, settings=QSettings(str(Path(tmp) / "b.ini"), QSettings.Format.IniFormat))
        win.frame_timer.stop()
        win.refresh_timer.stop()
        win.resize(1600, 1000)
        win.show()
        app.processEvents()
        painted = lambda: win.waterfall.image.qimage is not None  # noqa: E731
        fps_window, share_window = run(app, lambda: win.show_spectra(next_batch(1)), painted)
        fps_burst, share_burst = run(app, lambda: win.show_spectra(next_batch(10)), painted)
        win.close()

    print(f"console update rate at {N_BINS} bins (offscreen, {SECONDS:g} s each; rendered = frames whose "
          "waterfall image was painted):")
    print(f"  spectrum + waterfall widgets, 1 sweep/frame : {fps_widgets:6.1f} frames/s, "
          f"rendered {100 * share_widgets:.0f} %")
    print(f"  whole window,                 1 sweep/frame : {fps_window:6.1f} frames/s, "
          f"rendered {100 * share_window:.0f} %")
    print(f"  whole window,               10 sweeps/frame : {fps_burst:6.1f} frames/s "
          f"({10 * fps_burst:.0f} sweeps/s), rendered {100 * share_burst:.0f} %")
    ok = min(fps_widgets * share_widgets, fps_window * share_window) >= TARGET_FPS
    print(f"target >= {TARGET_FPS:g} frames/s: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
