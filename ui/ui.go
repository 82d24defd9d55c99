// Package ui is Dictate's desktop interface (Fyne): the main window, file transcription by
// drag and drop, and the system tray. It only renders and forwards; app/ does the work.
package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/go-gl/glfw/v3.4/glfw"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/app/models"
	"github.com/dictate-app/dictate/assets"
)

// Controller is what the window needs from the app (app.Desktop provides it).
type Controller interface {
	SettingsController
	Toggle()
	QuickToggle()
	Subscribe() (<-chan app.Event, func())
	History(n int) []app.TakeRecord
	Status() string
	Notices() []string
	TranscribeFile(ctx context.Context, path string, progress func(float64)) (app.Transcript, error)
	CopyText(text string) error
	InsertText(text string) error
	NeedsModel() bool
	CanDictate() bool
	Recommended() (name, size string)
	DownloadModel(ctx context.Context, name string, progress func(models.Progress)) error
}

// AppID is the application's identity (FyneApp.toml holds the same).
const AppID = "org.dictate.Dictate"

// ErrNoWindow: the display gives no window: no X or Wayland server answered, or it offers
// no OpenGL, which Fyne draws with (a remote X session, a VM without 3D).
var ErrNoWindow = errors.New("the window cannot open")

// Run shows the window and the tray until the user quits or ctx ends.
func Run(ctx context.Context, ctl Controller) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = windowFailure(r)
		}
	}()
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := NewMainWindow(a, ctl)
	if surface, err := NewOverlaySurface(); err == nil {
		w.Overlay = NewOverlay(surface, func() bool { return ctl.Settings().Overlay })
	} else if !errors.Is(err, errors.ErrUnsupported) {
		w.State.SetText("No recording overlay: " + err.Error())
	}
	// Start minimised only where the tray can bring the window back.
	if !ctl.Settings().StartMinimised || w.trayMenu == nil || ctl.NeedsModel() {
		w.win.Show()
	}
	stop := w.Follow(ctl)
	defer stop()
	go func() {
		<-ctx.Done()
		fyne.Do(a.Quit)
	}()
	a.Run()
	w.Close()
	if w.Overlay != nil {
		w.Overlay.Close()
	}
	return nil
}

// glfwNotInitialized is GLFW_NOT_INITIALIZED, which go-gl/glfw does not export: what its
// calls panic with once glfwInit failed (Fyne only logs that failure, with its cause).
const glfwNotInitialized glfw.ErrorCode = 0x00010001

// windowFailure turns the panic with which Fyne's GLFW driver meets a display that gives no
// window into ErrNoWindow, saying why and what works without one; any other panic goes on.
func windowFailure(r any) error {
	err, _ := r.(error)
	var ge *glfw.Error
	if !errors.As(err, &ge) {
		panic(r)
	}
	const without = "dictate listen dictates without a window"
	switch ge.Code {
	case glfwNotInitialized, glfw.PlatformUnavailable:
		return fmt.Errorf("%w: no display answered (DISPLAY=%q, WAYLAND_DISPLAY=%q); %s",
			ErrNoWindow, os.Getenv("DISPLAY"), os.Getenv("WAYLAND_DISPLAY"), without)
	case glfw.APIUnavailable, glfw.VersionUnavailable, glfw.FormatUnavailable:
		return fmt.Errorf("%w: the display offers no OpenGL 2.1 (%v); %s", ErrNoWindow, ge, without)
	}
	panic(r)
}

// MainWindow is the "Dictate" window: state, level meter, last transcript, history,
// model and device, and the Files tab for dropped audio files.
type MainWindow struct {
	app      fyne.App
	win      fyne.Window
	ctl      Controller
	State    *widget.Label
	Level    *widget.ProgressBar
	Busy     *widget.ProgressBarInfinite // shown while transcribing
	Live     *widget.RichText            // while recording: words committed, then (dimmed) words that may change
	Toggle   *widget.Button
	Last     *widget.Label
	Copy     *widget.Button
	Model    *widget.Label
	History  *widget.List
	Files    *FilesPanel
	Settings *SettingsScreen
	Setup    *FirstRun
	Tabs     *container.AppTabs
	Overlay  *Overlay // nil where the platform has none

	mu       sync.Mutex
	records  []app.TakeRecord
	state    app.State
	trayMenu *fyne.Menu // nil without a system tray
	bg       sync.WaitGroup
}

// NewMainWindow builds the window (not shown yet).
func NewMainWindow(a fyne.App, ctl Controller) *MainWindow {
	m := &MainWindow{app: a, ctl: ctl, win: a.NewWindow("Dictate")}
	m.State = widget.NewLabel("Idle")
	m.State.TextStyle = fyne.TextStyle{Bold: true}
	m.Level = widget.NewProgressBar()
	m.Level.TextFormatter = func() string { return "" }
	m.Level.Hide() // shown while recording
	m.Busy = widget.NewProgressBarInfinite()
	m.Busy.Hide()
	m.Live = widget.NewRichText()
	m.Live.Wrapping = fyne.TextWrapWord
	m.Live.Hide() // shown while a take has live text
	m.Toggle = widget.NewButton("Start dictation", ctl.Toggle)
	m.Toggle.Disable() // until a session runs (see showStatus)
	m.Last = widget.NewLabel("Hold the hotkey and speak; the words go to the focused window.")
	m.Last.Wrapping = fyne.TextWrapWord
	m.Copy = widget.NewButton("Copy", func() { m.onCopy(m.Last.Text) })
	m.Copy.Disable()
	m.Model = widget.NewLabel(ctl.Status())
	m.records = ctl.History(100)
	m.History = widget.NewList(
		func() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.records) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil, container.NewHBox(widget.NewButton("Copy", nil), widget.NewButton("Insert", nil)), widget.NewLabel(""))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			m.mu.Lock()
			r := m.records[len(m.records)-1-id] // newest first
			m.mu.Unlock()
			row := o.(*fyne.Container)
			row.Objects[0].(*widget.Label).SetText(historyLine(r))
			buttons := row.Objects[1].(*fyne.Container).Objects
			buttons[0].(*widget.Button).OnTapped = func() { m.onCopy(r.Text) }
			buttons[1].(*widget.Button).OnTapped = func() { m.InsertAgain(r.Text) }
		})
	m.Files = NewFilesPanel(ctl, m.win)
	m.Settings = NewSettingsScreen(ctl)
	m.Setup = NewFirstRun(ctl, m.modelReady)
	if !ctl.NeedsModel() {
		m.Setup.Box.Hide()
	}
	dictation := container.NewBorder(
		container.NewVBox(m.Setup.Box, container.NewBorder(nil, nil, nil, m.Toggle, m.State), m.Level, m.Busy, m.Live,
			container.NewBorder(nil, nil, nil, m.Copy, m.Last), widget.NewSeparator()),
		m.Model, nil, nil, m.History)
	settingsTab := container.NewTabItem("Settings", m.Settings.Content())
	m.Tabs = container.NewAppTabs(container.NewTabItem("Dictation", dictation), container.NewTabItem("Files", m.Files.Content()), settingsTab)
	m.Tabs.OnSelected = func(t *container.TabItem) {
		if t == settingsTab {
			m.Settings.Reload() // what changed meanwhile: microphones plugged in, models made
		}
	}
	m.win.SetContent(m.Tabs)
	m.win.Resize(fyne.NewSize(600, 560))
	m.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { m.Drop(uris) })
	if notices := ctl.Notices(); len(notices) > 0 {
		m.State.SetText(strings.Join(notices, " "))
	}
	m.setupTray()
	m.showStatus()
	return m
}

// showStatus shows the model, device and hotkey, and enables Start only while dictation
// can run (not while the model loads, nor without one).
func (m *MainWindow) showStatus() {
	m.Model.SetText(m.ctl.Status())
	if m.ctl.CanDictate() {
		m.Toggle.Enable()
	} else {
		m.Toggle.Disable()
	}
	if m.ctl.NeedsModel() {
		m.Setup.Box.Show()
	}
}

// modelReady follows a first-run download: the model is in use now.
func (m *MainWindow) modelReady() {
	m.Setup.Box.Hide()
	m.showStatus()
	m.Settings.Fill()
	m.State.SetText("Ready: hold the hotkey and speak.")
	m.refreshTray()
}

// Close ends the window's background work (file jobs, microphone test, downloads).
func (m *MainWindow) Close() {
	m.bg.Wait()
	m.Files.Close()
	m.Settings.Close()
	m.Setup.Close()
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

// InsertAgain puts a past take into the window that had focus before this one: the window
// hides, and the text goes in once the desktop has given focus back.
func (m *MainWindow) InsertAgain(text string) {
	if text == "" {
		return
	}
	m.win.Hide()
	m.bg.Add(1)
	go func() {
		defer m.bg.Done()
		time.Sleep(insertAgainDelay)
		if err := m.ctl.InsertText(text); err != nil {
			fyne.Do(func() { m.State.SetText("Could not insert: " + err.Error()) })
		}
	}()
}

// insertAgainDelay lets the window manager move focus back after the window hides.
var insertAgainDelay = 400 * time.Millisecond

func (m *MainWindow) onCopy(text string) {
	if text == "" {
		return
	}
	if err := m.ctl.CopyText(text); err != nil {
		m.State.SetText("Could not copy: " + err.Error())
	}
}

// Apply shows one event (call on the Fyne thread).
func (m *MainWindow) Apply(e app.Event) {
	switch e.Kind {
	case app.EventState:
		m.mu.Lock()
		changed := (m.state == app.Recording) != (e.State == app.Recording)
		m.state = e.State
		m.mu.Unlock()
		m.State.SetText(stateText(e.State))
		label := "Start dictation"
		if e.State == app.Recording {
			label = "Stop dictation"
			m.Level.Show()
		} else {
			m.Level.SetValue(0)
			m.Level.Hide()
		}
		if e.State == app.Idle {
			m.Live.Segments = nil
			m.Live.Hide()
		}
		m.Toggle.SetText(label)
		if e.State == app.Transcribing {
			m.Busy.Show()
			m.Busy.Start()
		} else {
			m.Busy.Stop()
			m.Busy.Hide()
		}
		if changed {
			m.refreshTray()
			if desk, ok := m.app.(desktop.App); ok && m.trayMenu != nil {
				desk.SetSystemTrayIcon(trayIcon(e.State == app.Recording))
			}
		}
	case app.EventLive:
		m.showLive(*e.Live)
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
		if r.Output == "clipboard" && r.Inserted != "" {
			m.app.SendNotification(fyne.NewNotification("Copied to the clipboard", r.Text))
		}
	case app.EventError:
		m.State.SetText("Error: " + e.Err.Error())
	case app.EventNotice:
		m.State.SetText(e.Text)
	case app.EventStatus:
		m.showStatus()
		m.refreshTray()
	}
}

// showLive shows what commit-while-speaking heard: the committed words as they will be
// typed, the words that may still change dimmed, and the take's length so far.
func (m *MainWindow) showLive(l app.LiveText) {
	m.mu.Lock()
	recording := m.state == app.Recording
	m.mu.Unlock()
	if recording {
		m.State.SetText(fmt.Sprintf("Recording… %d:%02d", int(l.Elapsed.Minutes()), int(l.Elapsed.Seconds())%60))
	}
	var segs []widget.RichTextSegment
	if l.Committed != "" {
		text := l.Committed
		if l.Tentative != "" {
			text += " "
		}
		segs = append(segs, &widget.TextSegment{Text: text, Style: widget.RichTextStyleInline})
	}
	if l.Tentative != "" {
		segs = append(segs, &widget.TextSegment{Text: l.Tentative, Style: widget.RichTextStyle{Inline: true,
			ColorName: theme.ColorNamePlaceHolder, TextStyle: fyne.TextStyle{Italic: true}}})
	}
	m.Live.Segments = segs
	m.Live.Refresh()
	if len(segs) > 0 {
		m.Live.Show()
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
			fyne.Do(func() {
				m.Apply(e)
				if m.Overlay != nil {
					m.Overlay.Apply(e)
				}
			})
		}
	}()
	return unsubscribe
}

// Window is the Fyne window (tests, screenshots).
func (m *MainWindow) Window() fyne.Window { return m.win }

func exportName(path, format string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + "." + format
}
