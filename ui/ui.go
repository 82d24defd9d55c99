// Package ui is Dictate's desktop interface (Fyne): the main window, file transcription by
// drag and drop, and the system tray. It only renders and forwards; app/ does the work.
package ui

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/assets"
)

// Controller is what the window needs from the app (app.Desktop provides it).
type Controller interface {
	Toggle()
	Subscribe() (<-chan app.Event, func())
	History(n int) []app.TakeRecord
	Status() string
	TranscribeFile(ctx context.Context, path string, progress func(float64)) (app.Transcript, error)
	CopyText(text string) error
}

// AppID is the application's identity (FyneApp.toml holds the same).
const AppID = "org.dictate.Dictate"

// Run shows the window and the tray until the user quits or ctx ends.
func Run(ctx context.Context, ctl Controller) error {
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := NewMainWindow(a, ctl)
	w.win.Show()
	stop := w.Follow(ctl)
	defer stop()
	go func() {
		<-ctx.Done()
		fyne.Do(a.Quit)
	}()
	a.Run()
	w.Files.Close()
	return nil
}

// MainWindow is the "Dictate" window: state, level meter, last transcript, history,
// model and device, and the Files tab for dropped audio files.
type MainWindow struct {
	app     fyne.App
	win     fyne.Window
	ctl     Controller
	State   *widget.Label
	Level   *widget.ProgressBar
	Toggle  *widget.Button
	Last    *widget.Label
	Copy    *widget.Button
	Model   *widget.Label
	History *widget.List
	Files   *FilesPanel
	Tabs    *container.AppTabs

	mu      sync.Mutex
	records []app.TakeRecord
	tray    *fyne.MenuItem
}

// NewMainWindow builds the window (not shown yet).
func NewMainWindow(a fyne.App, ctl Controller) *MainWindow {
	m := &MainWindow{app: a, ctl: ctl, win: a.NewWindow("Dictate")}
	m.State = widget.NewLabel("Idle")
	m.State.TextStyle = fyne.TextStyle{Bold: true}
	m.Level = widget.NewProgressBar()
	m.Level.TextFormatter = func() string { return "" }
	m.Level.Hide() // shown while recording
	m.Toggle = widget.NewButton("Start dictation", ctl.Toggle)
	m.Last = widget.NewLabel("Hold the hotkey and speak; the words go to the focused window.")
	m.Last.Wrapping = fyne.TextWrapWord
	m.Copy = widget.NewButton("Copy", func() { m.onCopy(m.Last.Text) })
	m.Copy.Disable()
	m.Model = widget.NewLabel(ctl.Status())
	m.records = ctl.History(100)
	m.History = widget.NewList(
		func() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.records) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil, widget.NewButton("Copy", nil), widget.NewLabel(""))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			m.mu.Lock()
			r := m.records[len(m.records)-1-id] // newest first
			m.mu.Unlock()
			row := o.(*fyne.Container)
			row.Objects[0].(*widget.Label).SetText(historyLine(r))
			row.Objects[1].(*widget.Button).OnTapped = func() { m.onCopy(r.Text) }
		})
	m.Files = NewFilesPanel(ctl)
	dictation := container.NewBorder(
		container.NewVBox(container.NewBorder(nil, nil, nil, m.Toggle, m.State), m.Level,
			container.NewBorder(nil, nil, nil, m.Copy, m.Last), widget.NewSeparator()),
		m.Model, nil, nil, m.History)
	m.Tabs = container.NewAppTabs(container.NewTabItem("Dictation", dictation), container.NewTabItem("Files", m.Files.Content()))
	m.win.SetContent(m.Tabs)
	m.win.Resize(fyne.NewSize(560, 480))
	m.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { m.Drop(uris) })
	m.setupTray()
	return m
}

// Drop queues dropped files for transcription and shows the Files tab.
func (m *MainWindow) Drop(uris []fyne.URI) {
	m.Tabs.SelectIndex(1)
	for _, u := range uris {
		m.Files.Add(u.Path())
	}
}

func historyLine(r app.TakeRecord) string {
	t := r.Time.Local().Format("15:04:05")
	switch {
	case r.Dropped != "":
		return fmt.Sprintf("%s  (dropped: %s)", t, r.Dropped)
	case r.Text == "":
		return fmt.Sprintf("%s  (failed: %s)", t, r.Error)
	}
	return fmt.Sprintf("%s  %s", t, r.Text)
}

func (m *MainWindow) onCopy(text string) {
	if text == "" {
		return
	}
	if err := m.ctl.CopyText(text); err != nil {
		m.State.SetText("Could not copy: " + err.Error())
	}
}

// setupTray adds the system tray menu where the desktop has one; closing the window then
// hides it, and dictation goes on.
func (m *MainWindow) setupTray() {
	desk, ok := m.app.(desktop.App)
	if !ok {
		return
	}
	desk.SetSystemTrayIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	m.tray = fyne.NewMenuItem("Start dictation", m.ctl.Toggle)
	desk.SetSystemTrayMenu(fyne.NewMenu("Dictate",
		m.tray,
		fyne.NewMenuItem("Open window", func() { m.win.Show(); m.win.RequestFocus() }),
	))
	m.win.SetCloseIntercept(m.win.Hide)
}

// Apply shows one event (call on the Fyne thread).
func (m *MainWindow) Apply(e app.Event) {
	switch e.Kind {
	case app.EventState:
		m.State.SetText(stateText(e.State))
		label := "Start dictation"
		if e.State == app.Recording {
			label = "Stop dictation"
			m.Level.Show()
		} else {
			m.Level.SetValue(0)
			m.Level.Hide()
		}
		m.Toggle.SetText(label)
		if m.tray != nil {
			m.tray.Label = label
		}
	case app.EventLevel:
		// RMS of speech is about 0.01–0.3: show it on a log scale.
		m.Level.SetValue(levelToMeter(e.Level))
	case app.EventTake:
		r := *e.Take
		m.mu.Lock()
		m.records = append(m.records, r)
		m.mu.Unlock()
		m.History.Refresh()
		if r.Text != "" {
			m.Last.SetText(r.Text)
			m.Copy.Enable()
		}
	case app.EventError:
		m.State.SetText("Error: " + e.Err.Error())
	case app.EventNotice:
		m.State.SetText(e.Text)
	}
}

func stateText(s app.State) string {
	return map[app.State]string{app.Idle: "Idle", app.Recording: "Recording…", app.Transcribing: "Transcribing…", app.Inserting: "Inserting…"}[s]
}

func levelToMeter(rms float32) float64 {
	if rms <= 0.001 {
		return 0
	}
	// -60 dBFS → 0, 0 dBFS → 1
	db := 20 * math.Log10(float64(rms))
	return min(1, max(0, (db+60)/60))
}

// Follow applies the controller's events until the returned func is called.
func (m *MainWindow) Follow(ctl Controller) func() {
	events, unsubscribe := ctl.Subscribe()
	go func() {
		for e := range events {
			fyne.Do(func() { m.Apply(e) })
		}
	}()
	return unsubscribe
}

// Window is the Fyne window (tests, screenshots).
func (m *MainWindow) Window() fyne.Window { return m.win }

func exportName(path, format string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + "." + format
}
