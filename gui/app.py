"""The console's main window: docks for sensors, spectrum, waterfall, occupancy, map, alerts, stations.

Two data sources drive the same widgets. Live (:class:`gui.client.ServerClient`): a frame timer
(~30 Hz) drains whatever the network worker received (spectra of the selected sensor, alert events,
sensor status) and applies it in one batch; a slower refresh timer asks the API for the sensor list,
alerts and occupancy, so nothing depends on a PUB message not lost to a late subscription. Archive
(:class:`gui.archive.ArchiveReader`): a time slider picks the moment shown. The dock layout, window
geometry and operator name are remembered with QSettings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QComboBox, QDockWidget, QLabel, QMainWindow, QToolBar, QWidget

from coordination.protocol import Reply, Spectrum
from gui.alerts import AlertsWidget
from gui.archive import ArchiveBar, ArchiveReader
from gui.cases import CasesWidget
from gui.client import Inbox, ServerClient
from gui.coordination import CoordinationWidget
from gui.map import MapWidget
from gui.occupancy import BandChoice, OccupancyWidget
from gui.sensors import SensorsWidget
from gui.spectrum import SpectrumWidget, StationSpan
from gui.stations import StationsWidget, local_search
from gui.waterfall import WaterfallWidget
from station_db.geo import Boundaries
from station_db.repository import StationRepository

log = logging.getLogger(__name__)

SETTINGS_ORG = "borderwatch"
SETTINGS_APP = "console"
#: Bump when docks are added/renamed so an old saved layout is not applied to a different window.
LAYOUT_VERSION = 1


def _int_setting(value: object) -> int:
    """A QSettings value as an int (QSettings may hand back a str, an int or None); 0 when unreadable."""
    try:
        return int(value) if isinstance(value, int | str) and value != "" else 0
    except ValueError:
        return 0


def default_bands() -> list[BandChoice]:
    """The coordination rules' bands (shipped defaults), for the band choosers."""
    try:
        from station_db.rules import load_rules

        return [BandChoice(b.name, b.f_lo_hz, b.f_hi_hz) for b in load_rules().bands]
    except Exception:  # rules missing or broken: the choosers just offer "all"
        log.warning("coordination rules not loaded: no band choosers", exc_info=True)
        return []


class MainWindow(QMainWindow):
    """One window, dockable views, fed by a live server client or an archive reader."""

    def __init__(self, *, client: ServerClient | None = None, archive: ArchiveReader | None = None,
                 station_repo: StationRepository | None = None, settings: QSettings | None = None,
                 frame_interval_ms: int = 33,
                 refresh_interval_ms: int = 2000, waterfall_rows: int = 300, boundaries: Boundaries | None = None,
                 bands: Sequence[BandChoice] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if (client is None) == (archive is None):
            raise ValueError("give exactly one of client (live) or archive (replay)")
        self.client = client
        self.archive = archive
        self.station_repo = station_repo
        self.settings = settings if settings is not None else QSettings(SETTINGS_ORG, SETTINGS_APP)
        self.selected_sensor: str | None = None
        self.selected_profile: str | None = None
        self.selected_alert: str | None = None
        self.profiles_seen: dict[str, list[str]] = {}
        self.stations: list[dict[str, Any]] = []
        self.connected = False
        self._auto_selected = False
        self._band_for_profile: str | None = None
        self.frames_applied = 0
        self.spectra_received = 0
        self.setWindowTitle(self.tr("borderwatch console"))
        self.setDockNestingEnabled(True)

        self.sensors_view = SensorsWidget()
        self.spectrum = SpectrumWidget()
        self.waterfall = WaterfallWidget(rows=waterfall_rows)
        self.occupancy = OccupancyWidget()
        self.map = MapWidget(boundaries=boundaries)
        self.alerts = AlertsWidget()
        self.cases_view = CasesWidget()
        self.station_browser = StationsWidget()
        self.coordination = CoordinationWidget(str(self.settings.value("province", "SH") or "SH"))
        band_list = list(bands) if bands is not None else default_bands()
        self.occupancy.set_bands(band_list)
        self.map.set_bands(band_list)

        self.docks: dict[str, QDockWidget] = {}
        area = Qt.DockWidgetArea
        for key, title, widget, where in (
                ("sensors", self.tr("Sensors"), self.sensors_view, area.LeftDockWidgetArea),
                ("map", self.tr("Map"), self.map, area.LeftDockWidgetArea),
                ("spectrum", self.tr("Spectrum"), self.spectrum, area.RightDockWidgetArea),
                ("waterfall", self.tr("Waterfall"), self.waterfall, area.RightDockWidgetArea),
                ("alerts", self.tr("Alerts"), self.alerts, area.BottomDockWidgetArea),
                ("cases", self.tr("Cases"), self.cases_view, area.BottomDockWidgetArea),
                ("occupancy", self.tr("Occupancy"), self.occupancy, area.BottomDockWidgetArea),
                ("stations", self.tr("Stations"), self.station_browser, area.BottomDockWidgetArea),
                ("coordination", self.tr("Coordination"), self.coordination, area.BottomDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{key}")
            dock.setWidget(widget)
            self.addDockWidget(where, dock)
            self.docks[key] = dock
        self.tabifyDockWidget(self.docks["alerts"], self.docks["cases"])
        self.tabifyDockWidget(self.docks["cases"], self.docks["occupancy"])
        self.tabifyDockWidget(self.docks["occupancy"], self.docks["stations"])
        self.tabifyDockWidget(self.docks["stations"], self.docks["coordination"])
        self.docks["alerts"].raise_()
        self._layout_restored = False
        self._sized = False

        self.toolbar = QToolBar(self.tr("View"))
        self.toolbar.setObjectName("toolbar_view")
        self.addToolBar(self.toolbar)
        self.toolbar.addWidget(QLabel(self.tr("Profile:")))
        self.profile_box = QComboBox()
        self.profile_box.setMinimumContentsLength(12)
        self.profile_box.currentTextChanged.connect(self._on_profile_chosen)
        self.toolbar.addWidget(self.profile_box)
        self.state_label = QLabel()
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.state_label)
        self.archive_bar: ArchiveBar | None = None

        self.sensors_view.sensor_selected.connect(self.select_sensor)
        self.map.alert_clicked.connect(self.select_alert)
        self.alerts.alert_selected.connect(self.select_alert)
        self.alerts.ack_requested.connect(lambda aid, by, note: self._transition("ack", aid, by, note))
        self.alerts.resolve_requested.connect(lambda aid, by, note: self._transition("resolve", aid, by, note))
        self.station_browser.search_requested.connect(self._search_stations)
        self.coordination.province_changed.connect(self._on_coord_province)
        self.coordination.request_selected.connect(self._request_coord_profile)
        self.cases_view.case_selected.connect(self._load_case)
        self.cases_view.action_requested.connect(self._case_action)
        self.alerts.by_edit.setText(str(self.settings.value("operator", "") or ""))
        self.alerts.by_edit.editingFinished.connect(
            lambda: self.settings.setValue("operator", self.alerts.by_edit.text().strip()))

        self.resize(1600, 1000)
        self.restore_layout()
        self.frame_timer = QTimer(self)
        self.frame_timer.setInterval(frame_interval_ms)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(refresh_interval_ms)
        if client is not None:
            self.frame_timer.timeout.connect(self._apply_inbox)
            self.refresh_timer.timeout.connect(self.refresh)
            self._start_live()
        else:
            self._start_archive()

    # ------------------------------------------------------------ layout persistence

    def restore_layout(self) -> None:
        if _int_setting(self.settings.value("layout_version", 0)) != LAYOUT_VERSION:
            return
        geom = self.settings.value("geometry")
        state = self.settings.value("window_state")
        if isinstance(geom, QByteArray):
            self.restoreGeometry(geom)
        if isinstance(state, QByteArray):
            self._layout_restored = self.restoreState(state, LAYOUT_VERSION)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized and not self._layout_restored:
            self.apply_default_sizes()
        self._sized = True

    def apply_default_sizes(self) -> None:
        """The first-run layout: spectrum and waterfall large, alerts below, sensors over the map."""
        w, h = self.width(), self.height()
        d = self.docks
        self.resizeDocks([d["alerts"]], [int(h * 0.30)], Qt.Orientation.Vertical)
        self.resizeDocks([d["sensors"], d["map"]], [int(h * 0.15), int(h * 0.5)], Qt.Orientation.Vertical)
        self.resizeDocks([d["spectrum"], d["waterfall"]], [int(h * 0.33), int(h * 0.33)], Qt.Orientation.Vertical)
        self.resizeDocks([d["map"], d["spectrum"]], [int(w * 0.36), int(w * 0.64)], Qt.Orientation.Horizontal)

    def save_layout(self) -> None:
        self.settings.setValue("layout_version", LAYOUT_VERSION)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState(LAYOUT_VERSION))
        self.settings.setValue("operator", self.alerts.by_edit.text().strip())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        self.frame_timer.stop()
        self.refresh_timer.stop()
        if self.client is not None:
            self.client.stop()
        super().closeEvent(event)

    # ------------------------------------------------------------ selection (shared by both sources)

    def select_sensor(self, sensor_id: str) -> None:
        """Show this sensor's spectrum, waterfall and occupancy."""
        if sensor_id == self.selected_sensor:
            return
        self.selected_sensor = sensor_id
        self.sensors_view.select(sensor_id, emit=False)
        self.spectrum.clear()
        self.waterfall.clear()
        self._fill_profiles()
        if self.client is not None:
            self.client.subscribe_spectra({sensor_id})
            self._backfill_waterfall()
            self._request_occupancy()
        else:
            self._archive_show()

    def _fill_profiles(self) -> None:
        profiles = self.profiles_seen.get(self.selected_sensor or "", [])
        self.profile_box.blockSignals(True)
        self.profile_box.clear()
        self.profile_box.addItems(profiles)
        if self.selected_profile in profiles:
            self.profile_box.setCurrentText(self.selected_profile)
        elif profiles:
            self.selected_profile = profiles[0]
            self.profile_box.setCurrentIndex(0)
        self.profile_box.blockSignals(False)

    def _note_profile(self, sensor_id: str, profile: str) -> None:
        known = self.profiles_seen.setdefault(sensor_id, [])
        if profile not in known:
            known.append(profile)
            if sensor_id == self.selected_sensor:
                self._fill_profiles()

    def _on_profile_chosen(self, profile: str) -> None:
        if not profile or profile == self.selected_profile:
            return
        self.selected_profile = profile
        self.spectrum.clear()
        self.waterfall.clear()
        if self.client is not None:
            self._backfill_waterfall()
            self._request_occupancy()
        else:
            self._archive_show()

    def select_alert(self, alert_id: str) -> None:
        """Select an alert everywhere: table row, map highlight, band mark on the spectrum."""
        self.selected_alert = alert_id
        self.alerts.select_alert(alert_id, emit=False)
        self.map.select_alert(alert_id)
        if self.client is not None:  # the full record: with the IQ captures ordered for it
            self._request("alert", {"id": alert_id}, lambda r: self.show_alerts([r.result])
                          if isinstance(r.result, Mapping) else None)
        a = self.alerts.model.alert(alert_id)
        if a is not None and a.get("f_center_hz") is not None:
            f = float(a["f_center_hz"])
            half = float(a.get("bandwidth_hz") or 0.0) / 2
            self.spectrum.highlight(f - half, f + half, str(alert_id))

    # ------------------------------------------------------------ shared updates

    def show_spectra(self, msgs: Sequence[Spectrum]) -> None:
        """Feed sweeps (oldest first) of the selected sensor to the spectrum and the waterfall."""
        if not msgs:
            return
        self.spectrum.set_spectra(msgs)
        self.waterfall.add_spectra(msgs)
        last = msgs[-1]
        if last.profile != self._band_for_profile:
            self._band_for_profile = last.profile
            self._choose_band(last.f_start_hz + last.f_step_hz * last.power_dbm.size / 2)

    def _choose_band(self, freq_hz: float) -> None:
        """Filter map stations and occupancy to the rules band the shown profile is in."""
        for b in self.map.bands:
            if b.f_lo_hz <= freq_hz < b.f_hi_hz:
                self.map.select_band(b.name)
                self.occupancy.select_band(b.name)
                return

    def show_sensors(self, sensors: Sequence[Mapping[str, Any]]) -> None:
        self.sensors_view.set_sensors(sensors)
        self.map.set_sensors(sensors)
        for s in sensors:
            if s.get("last_profile"):
                self._note_profile(str(s["sensor_id"]), str(s["last_profile"]))
        if self.selected_sensor is None and sensors:
            self.select_sensor(str(sensors[0]["sensor_id"]))

    def show_alerts(self, alerts: Sequence[Mapping[str, Any]], replace: bool = False) -> None:
        if replace:
            self.alerts.replace_all(alerts)
        else:
            self.alerts.upsert(alerts)
        self.map.set_alerts(self.alerts.model.alerts())
        if self.selected_alert is not None:
            self.map.select_alert(self.selected_alert)
        elif not self._auto_selected and self.alerts.visible_ids():
            self._auto_selected = True  # once: the most severe alert, so the detail pane says something
            self.select_alert(self.alerts.visible_ids()[0])

    def show_stations(self, stations: Sequence[Mapping[str, Any]]) -> None:
        """Licensed stations for the map and the spectrum's labelled spans."""
        self.stations = [dict(s) for s in stations]
        self.map.set_stations(self.stations)
        spans = []
        for s in self.stations:
            f = float(s["tx_freq_hz"])
            half = float(s.get("necessary_bw_hz") or 0.0) / 2
            spans.append(StationSpan(f - half, f + half, f"{s.get('station_id')}"))
        self.spectrum.set_stations(spans)

    def has_data(self) -> bool:
        """True once something worth a screenshot is shown (a spectrum, or the archive's sensors)."""
        if self.client is not None:
            return self.spectrum.frames > 0 and bool(self.sensors_view.sensors)
        return bool(self.sensors_view.sensors)

    def _set_state(self, text: str) -> None:
        self.state_label.setText(text)

    # ------------------------------------------------------------ live

    def _start_live(self) -> None:
        assert self.client is not None
        self._set_state(self.tr("Connecting to {0}...").format(self.client.api_addr))
        if not self.client.isRunning():
            self.client.start()
        self.refresh()
        self._request_paged("alerts", {"state": "resolved"}, self.show_alerts, page=200, max_items=200)
        self._request_paged("stations", {}, self.show_stations, on_error=self._stations_fallback)
        self.frame_timer.start()
        self.refresh_timer.start()

    def _request(self, op: str, args: Mapping[str, Any], on_reply: Callable[[Reply], None],
                 on_error: Callable[[str], None] | None = None) -> None:
        assert self.client is not None
        client = self.client

        def failed(text: str) -> None:
            log.info("%s failed: %s", op, text)
            if text.startswith("no answer"):
                self.connected = False
                self._set_state(self.tr("No answer from the server ({0})").format(client.api_addr))
            if on_error is not None:
                on_error(text)

        self.client.request(op, args, on_reply, failed)

    def _request_paged(self, op: str, args: Mapping[str, Any], on_done: Callable[[list[Any]], None],
                       *, page: int = 500, max_items: int = 20_000,
                       on_error: Callable[[str], None] | None = None) -> None:
        """Ask for a list op page by page (the server cuts replies to fit its 64 KiB header)."""
        items: list[Any] = []

        def ask(offset: int) -> None:
            self._request(op, {**args, "offset": offset, "limit": page}, lambda r: got(r, offset), on_error)

        def got(r: Reply, offset: int) -> None:
            res = r.result if isinstance(r.result, list) else []
            items.extend(res)
            more = bool(res) and (len(res) >= page or (r.error or "").startswith("truncated"))
            if more and len(items) < max_items:
                ask(offset + len(res))
            else:
                on_done(items)

        ask(0)

    def refresh(self) -> None:
        """Ask the API for the sensor list, the active alerts and the selected sensor's occupancy."""
        self._request("sensors", {}, self._on_sensors)
        self._request_paged("alerts", {"state": "open"}, lambda open_: self._request_paged(
            "alerts", {"state": "acknowledged"}, lambda acked: self._on_active_alerts(open_ + acked)))
        self._request_occupancy()
        self._request_coordination()
        self._request("cases", {"state": "open"}, lambda r: self.cases_view.upsert(r.result or []),
                      lambda text: None)  # a server without cases simply shows none

    def _request_coordination(self) -> None:
        """Requests waiting for the operator's province (a server without the ops: the tab stays empty)."""
        self._request("coord_requests", {"waiting_for": self.coordination.province, "state": "open"},
                      lambda r: self.coordination.show_requests(r.result or []), on_error=lambda _t: None)

    def _on_coord_province(self, province: str) -> None:
        self.settings.setValue("province", province)
        self.coordination.clear_profile()
        if self.client is not None:
            self._request_coordination()

    def _request_coord_profile(self, request_id: str) -> None:
        if self.client is None:
            return

        def got(r: Reply) -> None:
            mine = next((p for p in (r.result or {}).get("profiles", ())
                         if p.get("neighbour") == self.coordination.province), None)
            if mine is None:
                self.coordination.clear_profile()
                return
            i, j = mine["arrays"]
            self.coordination.show_profile(request_id, r.arrays[i], r.arrays[j], float(mine["limit_dbuv_m"]))

        self._request("coord_request", {"id": request_id, "profiles": True}, got, on_error=lambda _t: None)

    def _load_case(self, case_id: str) -> None:
        """The selected case with its history (the list carries summaries only)."""
        if self.client is not None:
            self._request("case", {"id": case_id}, lambda r: self.cases_view.upsert([r.result])
                          if isinstance(r.result, Mapping) else None)

    def _case_action(self, case_id: str, action: str, fields: dict) -> None:
        """A note, a hand-over request or a closure through the API; the answer updates the row."""
        if self.client is None:
            self.cases_view.show_status(self.tr("Archive replay: cases cannot be changed"))
            return

        def done(r: Reply) -> None:
            if isinstance(r.result, Mapping):
                self.cases_view.upsert([r.result])
                self.cases_view.show_status(self.tr("{0}: {1}").format(case_id, r.result.get("state", "")))

        def failed(text: str) -> None:
            self.cases_view.show_status(self.tr("{0} failed: {1}").format(case_id, text))

        self._request("case_act", {"id": case_id, "action": action, **fields}, done, failed)

    def _on_active_alerts(self, active: list[dict[str, Any]]) -> None:
        self.show_alerts(active)
        fresh = {str(a.get("id")) for a in active}
        for a in self.alerts.model.alerts():  # left the active set while a PUB event was missed
            if a.get("state") in ("open", "acknowledged") and str(a.get("id")) not in fresh:
                self._request("alert", {"id": a["id"]}, lambda r: self.show_alerts([r.result]))

    def _on_sensors(self, reply: Reply) -> None:
        if not self.connected:
            self.connected = True
            self._set_state(self.tr("Connected to {0}").format(self.client.api_addr if self.client else ""))
        self.show_sensors(reply.result or [])

    def _request_occupancy(self) -> None:
        sid, profile = self.selected_sensor, self.selected_profile
        if sid is None or profile is None:
            return

        def got(r: Reply) -> None:
            if (sid, profile) == (self.selected_sensor, self.selected_profile):
                res = r.result or {}
                self.occupancy.set_occupancy(res.get("channel_centers_hz") or [], res.get("rows") or [])

        self._request("occupancy", {"sensor_id": sid, "profile": profile, "n": 500}, got)

    def _backfill_waterfall(self) -> None:
        sid, profile = self.selected_sensor, self.selected_profile
        if sid is None:
            return
        args: dict[str, Any] = {"sensor_id": sid, "n": self.waterfall.rows}
        if profile:
            args["profile"] = profile

        def got(r: Reply) -> None:
            if sid != self.selected_sensor or not r.arrays or self.waterfall.count > 0:
                return  # live sweeps already arrived: keep them
            res = r.result
            rows, bins = res["shape"]
            power = np.asarray(r.arrays[0], np.float32).reshape(rows, bins)
            msgs = [Spectrum(sid, 0, t, profile=res["profile"], f_start_hz=res["f_start_hz"],
                             f_step_hz=res["f_step_hz"], power_dbm=power[i], detector=res.get("detector", "mean"))
                    for i, t in enumerate(res["t_utc"])]
            self.waterfall.add_spectra(msgs)

        self._request("waterfall", args, got)

    def _apply_inbox(self) -> None:
        """One frame: apply everything the network worker received since the last frame."""
        assert self.client is not None
        box: Inbox = self.client.drain()
        if box.empty():
            return
        self.client.dispatch(box)
        for sid, msgs in box.spectra.items():
            self.spectra_received += len(msgs)
            for m in msgs:
                self._note_profile(sid, m.profile)
            if sid != self.selected_sensor:
                continue
            if self.selected_profile is None:
                self.selected_profile = msgs[-1].profile
                self._fill_profiles()
            self.show_spectra([m for m in msgs if m.profile == self.selected_profile])
        if box.alerts:
            self.show_alerts(box.alerts)
        for sid, health in box.statuses.items():
            self.sensors_view.update_status(sid, health)
        self.frames_applied += 1

    def _transition(self, op: str, alert_id: str, by: str, note: str) -> None:
        """Acknowledge or resolve through the API; the answer updates the table."""
        args: dict[str, Any] = {"id": alert_id, "by": by}
        if note:
            args["note"] = note
        if self.client is None:
            self.alerts.show_status(self.tr("Archive replay: alerts cannot be changed"))
            return

        def done(r: Reply) -> None:
            if isinstance(r.result, Mapping):
                self.show_alerts([r.result])
            self.alerts.show_status(self.tr("{0}: {1}").format(alert_id, r.result.get("state", "")
                                                                 if isinstance(r.result, Mapping) else ""))

        def failed(text: str) -> None:
            self.alerts.show_status(self.tr("{0} failed: {1}").format(alert_id, text))

        self._request(op, args, done, failed)

    def _search_stations(self, args: dict) -> None:
        if self.client is not None:
            self._request_paged("stations", args, self.station_browser.show_results, page=1000,
                                on_error=lambda text: self._search_locally(args, text))
        else:
            self._search_locally(args, None)

    def _search_locally(self, args: Mapping[str, Any], server_error: str | None) -> None:
        if self.station_repo is None:
            self.station_browser.show_error(server_error or self.tr("no station database (use --stations DB)"))
            return
        try:
            self.station_browser.show_results(local_search(self.station_repo, args))
        except Exception as exc:  # a broken local DB: say so, keep the window
            self.station_browser.show_error(str(exc))

    def _stations_fallback(self, text: str) -> None:
        if self.station_repo is not None:
            self.show_stations(local_search(self.station_repo, {}, limit=20000))

    # ------------------------------------------------------------ archive

    def _start_archive(self) -> None:
        reader = self.archive
        assert reader is not None
        self.setWindowTitle(self.tr("borderwatch console - archive {0}").format(str(reader.root)))
        for sid, profile in reader.sensor_profiles():
            self.profiles_seen.setdefault(sid, []).append(profile)
        rng = reader.time_range_s()
        if rng is not None:
            self.archive_bar = ArchiveBar(*rng)
            bar = QToolBar(self.tr("Archive"))
            bar.setObjectName("toolbar_archive")
            bar.addWidget(self.archive_bar)
            self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, bar)
            self.archive_bar.time_changed.connect(lambda _t: self._archive_show())
        self._set_state(self.tr("Archive replay (no server)"))
        if self.station_repo is not None:
            self.show_stations(local_search(self.station_repo, {}, limit=20000))
        self.show_sensors(reader.sensors())
        self._archive_show()

    def archive_time_s(self) -> float | None:
        return self.archive_bar.time_s() if self.archive_bar is not None else None

    def _archive_show(self) -> None:
        reader = self.archive
        t = self.archive_time_s()
        if reader is None or t is None:
            return
        self.show_alerts(reader.alerts(at_s=t), replace=True)
        sid, profile = self.selected_sensor, self.selected_profile
        self.spectrum.clear()
        self.waterfall.clear()
        if sid is None or profile is None:
            return
        msgs = reader.spectra(sid, profile, t, self.waterfall.rows)
        self.show_spectra(msgs)
        centers, rows = reader.occupancy(sid, profile, at_s=t)
        self.occupancy.set_occupancy(centers, rows)
