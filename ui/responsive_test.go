package ui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/app/models"
	"github.com/dictate-app/dictate/internal/testenv"
)

// The window answers while a large model loads: on the real app.Desktop with a generated
// distil-large-v3 (1.5 GB; about 1.4 s to load here, seconds on a laptop's disk) every
// button, tray item and settings action returns while the load still runs, so none waited
// for it. Before, the Desktop held its lock through the load and each of them froze.
func TestE2EWindowAnswersWhileModelLoads(t *testing.T) {
	testenv.X(t)
	testenv.PulseAudio(t)
	dir := t.TempDir()
	big := testenv.Model(t, "distil-large-v3")
	set := app.DefaultSettings()
	set.Hotkey, set.Language, set.Sounds = "F9", "en", false
	cfg, err := set.SessionConfig(big)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HistoryPath, cfg.RecordingsDir = filepath.Join(dir, "history.jsonl"), filepath.Join(dir, "recordings")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := app.OpenDesktop(ctx, app.DesktopConfig{Session: cfg, Settings: set, SettingsPath: filepath.Join(dir, "settings.toml"),
		Manager: models.New(filepath.Join(dir, "models"), nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a := newTestApp(t)
	opened := time.Now()
	m := NewMainWindow(a, d)
	defer m.Close()
	// Each click runs on the UI thread and is timed alone; settle then waits for the
	// background work it started.
	clicks := []struct {
		name   string
		do     func()
		settle func()
	}{
		{"Start dictation", func() { test.Tap(m.Toggle) }, nil},
		{"tray menu", func() { m.refreshTray() }, nil},
		{"tray Quick transcribe", func() { m.TrayMenu().Items[0].Action() }, nil},
		{"tray Start dictation", func() { m.TrayMenu().Items[1].Action() }, nil},
		{"Settings tab", func() { m.Tabs.SelectIndex(2) }, m.Settings.listing.wait},
		{"Settings Revert", func() { m.Settings.Form.OnCancel() }, m.Settings.listing.wait},
		{"Settings Apply", func() { m.Settings.Form.OnSubmit() }, nil},
		{"status line", func() { m.showStatus() }, nil},
		{"drop a file", func() { m.Files.Add(filepath.Join(dir, "talk.wav")) }, func() { waitJobs(t, m.Files, 1) }},
	}
	var slowest time.Duration
	for _, c := range clicks {
		var took time.Duration
		fyne.DoAndWait(func() {
			start := time.Now()
			c.do()
			took = time.Since(start)
		})
		slowest = max(slowest, took)
		if c.settle != nil {
			c.settle()
		}
		select {
		case <-d.Loaded():
			t.Fatalf("the model had loaded (%v after the window opened) by the time %q (%v) and its background work ended: the test cannot tell whether it waited for the load",
				time.Since(opened), c.name, took)
		default:
		}
		t.Logf("%-22s %6.1f ms (model still loading)", c.name, float64(took.Microseconds())/1000)
	}
	m.Files.Close() // its worker's last redraw is done
	fyne.DoAndWait(func() {
		if !strings.HasPrefix(m.Model.Text, "Loading distil-large-v3.bin") || !m.Toggle.Disabled() {
			t.Errorf("while loading: status %q, Start enabled %v", m.Model.Text, !m.Toggle.Disabled())
		}
	})
	<-d.Loaded()
	t.Logf("slowest answer %.1f ms; the model loaded %v after the window opened", float64(slowest.Microseconds())/1000, time.Since(opened).Round(time.Millisecond))
	m.Settings.applying.Wait() // Apply waited for the load in the background, then reloaded the form
	m.Settings.listing.wait()
	fyne.DoAndWait(func() {
		m.Apply(app.Event{Kind: app.EventStatus})
		if !d.CanDictate() || !strings.Contains(m.Model.Text, "hotkey F9") || m.Toggle.Disabled() {
			t.Errorf("after the load: can dictate %v, status %q, Start enabled %v", d.CanDictate(), m.Model.Text, !m.Toggle.Disabled())
		}
		if !strings.HasPrefix(m.Settings.Message.Text, "Applied") {
			t.Errorf("Apply made during the load: %q", m.Settings.Message.Text)
		}
	})
}
