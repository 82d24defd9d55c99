package ui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/app/models"
	"github.com/dictate-app/dictate/engine"
)

func TestHotkeyCapture(t *testing.T) {
	for _, tc := range []struct {
		name    string
		down    []fyne.KeyName
		up      []fyne.KeyName
		want    string
		refused bool
	}{
		{"chord", []fyne.KeyName{desktop.KeyControlLeft, desktop.KeyShiftLeft, fyne.KeySpace}, nil, "ctrl+shift+space", false},
		{"super alt letter", []fyne.KeyName{desktop.KeySuperLeft, desktop.KeyAltLeft, fyne.KeyD}, nil, "super+alt+d", false},
		{"function key", []fyne.KeyName{fyne.KeyF9}, nil, "f9", false},
		{"right ctrl alone", []fyne.KeyName{desktop.KeyControlRight}, []fyne.KeyName{desktop.KeyControlRight}, "RightCtrl", false},
		{"both ctrls count once", []fyne.KeyName{desktop.KeyControlLeft, desktop.KeyControlRight, fyne.KeyPageUp}, nil, "ctrl+pageup", false},
		{"a bare letter is refused", []fyne.KeyName{fyne.KeyA}, nil, "ctrl+shift+space", true},
		{"escape cancels", []fyne.KeyName{desktop.KeyControlLeft, fyne.KeyEscape}, nil, "ctrl+shift+space", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newTestApp(t)
			h := NewHotkeyCapture("ctrl+shift+space")
			w := test.NewWindow(h)
			defer w.Close()
			var changed, refused string
			h.OnChanged = func(s string) { changed = s }
			h.OnInvalid = func(r string) { refused = r }
			test.Tap(h)
			if !h.Capturing() || !strings.Contains(h.Text, "Press") {
				t.Fatalf("not capturing after a tap: %q", h.Text)
			}
			for _, k := range tc.down {
				h.KeyDown(&fyne.KeyEvent{Name: k})
			}
			for _, k := range tc.up {
				h.KeyUp(&fyne.KeyEvent{Name: k})
			}
			if h.Spec != tc.want || h.Text != tc.want || h.Capturing() {
				t.Errorf("spec %q text %q capturing %v; want %q", h.Spec, h.Text, h.Capturing(), tc.want)
			}
			if (refused != "") != tc.refused {
				t.Errorf("refused %q", refused)
			}
			if !tc.refused && tc.want != "ctrl+shift+space" && changed != tc.want {
				t.Errorf("OnChanged got %q", changed)
			}
		})
	}
}

func newSettingsWindow(t *testing.T) (*fakeController, *SettingsScreen) {
	newTestApp(t)
	ctl := newFake()
	ctl.settings.Replacements = []app.Replacement{{From: "smiley", To: "🙂"}}
	s := NewSettingsScreen(ctl)
	s.Reload()
	s.listing.wait() // the microphones are listed in the background
	w := test.NewWindow(s.Content())
	t.Cleanup(func() { s.Close(); w.Close() })
	return ctl, s
}

func TestSettingsScreenShowsAndAppliesSettings(t *testing.T) {
	ctl, s := newSettingsWindow(t)
	if s.Hotkey.Spec != "ctrl+shift+space" || s.Mode.Selected != "hold" || s.Device.Selected != defaultDevice ||
		s.Model.Selected != "distil-small.en" || s.Tail.Text != "300" || !s.Sounds.Checked || s.Language.Text != "auto" {
		t.Fatalf("form does not show the settings: hotkey %q mode %q device %q model %q tail %q", s.Hotkey.Spec, s.Mode.Selected, s.Device.Selected, s.Model.Selected, s.Tail.Text)
	}
	if !slices.Equal(s.Device.Options, []string{defaultDevice, "USB Mic", "Webcam"}) {
		t.Errorf("devices %v", s.Device.Options)
	}
	if rows := s.Replacements.Rows(); len(rows) != 1 || rows[0][0].Text != "smiley" {
		t.Fatalf("replacement rows %v", rows)
	}

	// Change a bit of everything, as a user would.
	test.Tap(s.Hotkey)
	s.Hotkey.KeyDown(&fyne.KeyEvent{Name: fyne.KeyF8})
	s.Mode.SetSelected("toggle")
	s.Device.SetSelected("USB Mic")
	s.Model.SetSelected("tiny.en")
	s.Language.SetText("de")
	s.Translate.SetChecked(true)
	s.Output.SetSelected("paste")
	s.PasteChord.SetSelected("shift+insert")
	s.Terminals.SetText("kitty, xterm")
	s.Prompt.SetText("Grafana, Kubernetes")
	test.Tap(s.Replacements.Add)
	rows := s.Replacements.Rows()
	rows[1][0].SetText("new bullet")
	rows[1][1].SetText(`\n- `)
	s.Tail.SetText("450")
	s.Sounds.SetChecked(false)
	s.LaunchAtLogin.SetChecked(true)
	s.AudioCtxFloor.SetText("8")
	s.LivePrompt.SetChecked(false)
	s.Overlay.SetChecked(false)
	s.LiveType.SetChecked(true)
	if err := s.Apply(); err != nil {
		t.Fatal(err)
	}
	if len(ctl.applied) != 1 {
		t.Fatalf("applied %d times", len(ctl.applied))
	}
	got := ctl.applied[0]
	want := app.DefaultSettings()
	want.Hotkey, want.Mode, want.Device, want.Language, want.Translate = "f8", "toggle", "USB Mic", "de", true
	want.Output, want.PasteChord, want.TerminalClasses, want.Prompt = "paste", "shift+insert", []string{"kitty", "xterm"}, "Grafana, Kubernetes"
	want.Replacements = []app.Replacement{{From: "smiley", To: "🙂"}, {From: "new bullet", To: "\n- "}}
	want.TailMS, want.Sounds, want.LaunchAtLogin, want.AudioCtxFloorS = 450, false, true, 8
	want.LivePrompt, want.Overlay, want.LiveType = false, false, true
	if !slices.EqualFunc([]app.Settings{got}, []app.Settings{want}, settingsEqual) {
		t.Errorf("applied\n %+v\nwant\n %+v", got, want)
	}
	if !slices.Equal(ctl.used, []string{"tiny.en"}) {
		t.Errorf("model switches %v", ctl.used)
	}
	if !strings.HasPrefix(s.Message.Text, "Applied") {
		t.Errorf("message %q", s.Message.Text)
	}
}

func settingsEqual(a, b app.Settings) bool {
	return a.Hotkey == b.Hotkey && a.Mode == b.Mode && a.Device == b.Device && a.Language == b.Language &&
		a.Translate == b.Translate && a.Output == b.Output && a.PasteChord == b.PasteChord &&
		slices.Equal(a.TerminalClasses, b.TerminalClasses) && a.Prompt == b.Prompt && slices.Equal(a.Replacements, b.Replacements) &&
		a.TailMS == b.TailMS && a.InstantStart == b.InstantStart && a.Sounds == b.Sounds && a.StartMinimised == b.StartMinimised &&
		a.LaunchAtLogin == b.LaunchAtLogin && a.GPU == b.GPU && a.Threads == b.Threads && a.TrimAudioCtx == b.TrimAudioCtx &&
		a.AudioCtxFloorS == b.AudioCtxFloorS && a.LiveCommit == b.LiveCommit && a.LivePrompt == b.LivePrompt &&
		a.Overlay == b.Overlay && a.LiveType == b.LiveType
}

// Invalid values are refused in the form with a reason and nothing is applied.
func TestSettingsScreenRefusesInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *SettingsScreen)
		reason string
	}{
		{"tail not a number", func(s *SettingsScreen) { s.Tail.SetText("soon") }, "whole number"},
		{"tail too long", func(s *SettingsScreen) { s.Tail.SetText("9000") }, "5000"},
		{"unknown language", func(s *SettingsScreen) { s.Language.SetText("elvish") }, "language"},
		{"class with a space", func(s *SettingsScreen) { s.Terminals.SetText("two words") }, "window class"},
		{"prompt too long", func(s *SettingsScreen) { s.Prompt.SetText(strings.Repeat("word ", 200)) }, "too long"},
		{"floor", func(s *SettingsScreen) { s.AudioCtxFloor.SetText("0") }, "between 1 and 30"},
		{"replacement twice", func(s *SettingsScreen) {
			test.Tap(s.Replacements.Add)
			s.Replacements.Rows()[1][0].SetText("Smiley")
		}, "replaced twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctl, s := newSettingsWindow(t)
			tc.change(s)
			err := s.Apply()
			if err == nil || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(s.Message.Text, tc.reason) {
				t.Fatalf("error %v, message %q; want a reason with %q", err, s.Message.Text, tc.reason)
			}
			if len(ctl.applied) != 0 {
				t.Error("invalid settings were applied")
			}
		})
	}
	// An invalid hotkey never reaches the form.
	_, s := newSettingsWindow(t)
	test.Tap(s.Hotkey)
	s.Hotkey.KeyDown(&fyne.KeyEvent{Name: fyne.KeyQ})
	if s.Hotkey.Spec != "ctrl+shift+space" || !strings.Contains(s.Message.Text, "swallow") {
		t.Errorf("bare Q: spec %q message %q", s.Hotkey.Spec, s.Message.Text)
	}
}

func TestSettingsScreenMicrophoneTest(t *testing.T) {
	ctl, s := newSettingsWindow(t)
	if s.Meter.Visible() {
		t.Fatal("the level meter shows with no test running (Fyne draws its empty track like a full bar)")
	}
	s.Device.SetSelected("Webcam")
	test.Tap(s.TestMic)
	<-ctl.leveled
	if s.Meter.Value < 0.5 || !s.Meter.Visible() {
		t.Fatalf("meter %v, shown %v", s.Meter.Value, s.Meter.Visible())
	}
	s.Close()
	if !slices.Equal(ctl.tested, []string{"Webcam"}) || s.Meter.Value != 0 || s.TestMic.Disabled() || s.Meter.Visible() {
		t.Errorf("tested %v meter %v shown %v", ctl.tested, s.Meter.Value, s.Meter.Visible())
	}
}

// The Model row's button converts the chosen model to q8_0 and selects the copy without
// switching to it; tapped again while it runs, it cancels.
func TestSettingsScreenFasterCopy(t *testing.T) {
	ctl, s := newSettingsWindow(t)
	test.Tap(s.FasterCopy)
	s.convert.wait()
	if s.Message.Text != "Made distil-small.en-q8_0. Apply to use it." {
		t.Fatalf("message %q", s.Message.Text)
	}
	if !slices.Contains(s.Model.Options, "distil-small.en-q8_0") || s.Model.Selected != "distil-small.en-q8_0" {
		t.Fatalf("models %v, selected %q", s.Model.Options, s.Model.Selected)
	}
	if !slices.Equal(ctl.converted, []string{"distil-small.en"}) || len(ctl.used) != 0 || s.FasterCopy.Text != fasterCopyLabel {
		t.Fatalf("converted %v, used %v, button %q", ctl.converted, ctl.used, s.FasterCopy.Text)
	}

	ctl.mu.Lock()
	ctl.convertHold = make(chan struct{})
	ctl.mu.Unlock()
	s.Model.SetSelected("tiny.en")
	test.Tap(s.FasterCopy)
	<-ctl.convertHold // progress reported; the conversion now waits to be cancelled
	if s.Message.Text != "Converting tiny.en to q8_0… 50%" || s.FasterCopy.Text != "Cancel" {
		t.Fatalf("message %q, button %q while converting", s.Message.Text, s.FasterCopy.Text)
	}
	test.Tap(s.FasterCopy)
	s.convert.wait()
	if s.Message.Text != "Conversion cancelled." || s.FasterCopy.Text != fasterCopyLabel || slices.Contains(s.Model.Options, "tiny.en-q8_0") {
		t.Fatalf("message %q, button %q, models %v after cancel", s.Message.Text, s.FasterCopy.Text, s.Model.Options)
	}
}

func TestTrayMenu(t *testing.T) {
	a := newTestApp(t)
	ctl := newFake()
	m := NewMainWindow(a, ctl)
	t.Cleanup(m.Close)
	labels := func(menu *fyne.Menu) []string {
		var out []string
		for _, it := range menu.Items {
			out = append(out, it.Label)
		}
		return out
	}
	menu := m.TrayMenu()
	if got := labels(menu); !slices.Equal(got, []string{"Quick transcribe", "Start dictation", "Open window", "", "Model", "", "Quit"}) {
		t.Fatalf("tray menu %q", got)
	}
	models := menu.Items[4].ChildMenu.Items
	if len(models) != 2 || !models[0].Checked || models[1].Checked || models[1].Label != "tiny.en (75 MB)" {
		t.Fatalf("model submenu %+v", models)
	}
	menu.Items[0].Action()
	menu.Items[1].Action()
	if ctl.quick != 1 || ctl.toggles != 1 {
		t.Errorf("quick %d toggles %d", ctl.quick, ctl.toggles)
	}
	models[1].Action()
	m.bg.Wait()
	if !strings.Contains(m.State.Text, "Using tiny.en") {
		t.Fatalf("state after switching model: %q", m.State.Text)
	}
	menu = m.TrayMenu()
	if models := menu.Items[4].ChildMenu.Items; models[0].Checked || !models[1].Checked {
		t.Error("the model switched to is not checked")
	}
	m.Apply(app.Event{Kind: app.EventState, State: app.Recording})
	if got := labels(m.TrayMenu()); got[0] != "Stop quick transcribe" || got[1] != "Stop dictation" {
		t.Errorf("recording tray %q", got)
	}
	if !menu.Items[6].IsQuit {
		t.Error("Quit is not the quit item")
	}
}

func TestQuickTranscribeNotifies(t *testing.T) {
	a := test.NewTempApp(t) // AssertNotificationSent needs Fyne's own test app; nothing runs in the background here
	m := NewMainWindow(a, newFake())
	t.Cleanup(m.Close)
	take := &app.TakeRecord{Time: time.Now(), Text: "Remember the milk.", Inserted: "Remember the milk.", Output: "clipboard"}
	test.AssertNotificationSent(t, fyne.NewNotification("Copied to the clipboard", "Remember the milk."), func() {
		m.Apply(app.Event{Kind: app.EventTake, Take: take})
	})
	typed := &app.TakeRecord{Time: time.Now(), Text: "Typed.", Inserted: "Typed.", Output: "type"}
	test.AssertNotificationSent(t, nil, func() { m.Apply(app.Event{Kind: app.EventTake, Take: typed}) })
}

func TestFirstRunDownloads(t *testing.T) {
	a := newTestApp(t)
	ctl := newFake()
	ctl.needsModel = true
	m := NewMainWindow(a, ctl)
	t.Cleanup(m.Close)
	if !m.Setup.Box.Visible() || !strings.Contains(m.Setup.Info.Text, "distil-small.en (166 MB)") {
		t.Fatalf("first-run card: visible %v %q", m.Setup.Box.Visible(), m.Setup.Info.Text)
	}
	if !m.Toggle.Disabled() {
		t.Error("Start dictation is enabled with no model")
	}
	test.Tap(m.Setup.Download)
	m.Setup.Wait()
	if m.Setup.Box.Visible() {
		t.Fatalf("card still shown: %q", m.Setup.Info.Text)
	}
	if !slices.Equal(ctl.downloaded, []string{"distil-small.en"}) || m.Setup.Progress.Value != 1 {
		t.Errorf("downloaded %v progress %v", ctl.downloaded, m.Setup.Progress.Value)
	}
	if m.Toggle.Disabled() {
		t.Error("Start dictation is still disabled with the model in use")
	}
	// Offline: the card says why and what to do, and offers to try again.
	m3 := NewMainWindow(a, &fakeController{events: make(chan app.Event, 1), needsModel: true, settings: app.DefaultSettings(),
		downloadErr: &models.DownloadError{Model: "distil-small.en", Reason: "no network connection to huggingface.co",
			Advice: "Behind a proxy, set HTTPS_PROXY.", Err: models.ErrHTTP}})
	t.Cleanup(m3.Close)
	test.Tap(m3.Setup.Download)
	m3.Setup.Wait()
	if got := m3.Setup.Info.Text; got != "Could not download distil-small.en: no network connection to huggingface.co. Behind a proxy, set HTTPS_PROXY." ||
		m3.Setup.Download.Text != "Try again" || !m3.Setup.Box.Visible() {
		t.Errorf("offline: %q, button %q", got, m3.Setup.Download.Text)
	}
	// Without a need for a model the card is not shown at all.
	m2 := NewMainWindow(a, newFake())
	t.Cleanup(m2.Close)
	if m2.Setup.Box.Visible() {
		t.Error("first-run card shown with a model installed")
	}
}

func TestExportDialogSavesWhereChosen(t *testing.T) {
	a := newTestApp(t)
	ctl := newFake()
	m := NewMainWindow(a, ctl)
	t.Cleanup(m.Close)
	m.Window().Resize(fyne.NewSize(800, 600))
	dir := t.TempDir()
	job := &FileJob{Path: filepath.Join(dir, "talk.mp3"), Transcript: &app.Transcript{Segments: []engine.Segment{{Start: 0, End: time.Second, Text: "Hello there."}}}}
	d := m.Files.ShowExportDialog(job, "vtt")
	if d == nil {
		t.Fatal("no dialog")
	}
	d.Hide()
	out := filepath.Join(dir, "chosen.vtt")
	w, err := storage.Writer(storage.NewFileURI(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Files.ExportTo(job, "vtt", w); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if !strings.HasPrefix(string(b), "WEBVTT") || !strings.Contains(string(b), "Hello there.") {
		t.Errorf("export: %q", b)
	}
}
