package app

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/app/hotkey"
	"github.com/dictate-app/dictate/app/models"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/internal/testenv"
)

// desktopEvents collects a Desktop's events for assertions.
type desktopEvents struct {
	ch <-chan Event
}

// waitFor returns the first event that matches within 20 s.
func (e desktopEvents) waitFor(t *testing.T, what string, match func(Event) bool) Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				t.Fatalf("event stream ended waiting for %s", what)
			}
			if ev.Kind == EventError {
				t.Logf("error event: %v", ev.Err)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", what)
		}
	}
}

func isState(s State) func(Event) bool {
	return func(e Event) bool { return e.Kind == EventState && e.State == s }
}

func isTake(e Event) bool { return e.Kind == EventTake }

// TestE2EDesktopLive drives app.Desktop (what the GUI calls) on real parts: the first-run
// download from a local server, a session on Xvfb and PulseAudio, settings applied live
// (a new hotkey works at once, a taken one is refused and the old session goes on, invalid
// values are refused), the start/stop cues heard in the take, quick transcribe to the
// clipboard, and switching models.
func TestE2EDesktopLive(t *testing.T) {
	testenv.X(t)
	pulse := testenv.PulseAudio(t)
	kb := testenv.NewKeyboard(t)
	dir := testenv.ModelCatalog(t, false)
	entries, err := models.LoadCatalog(filepath.Join(dir, "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	manager := models.New(filepath.Join(dir, "models"), entries)
	settingsPath := filepath.Join(dir, "settings.toml")
	set := DefaultSettings()
	set.Hotkey, set.Language, set.Sounds = "F9", "en", false
	base, err := set.SessionConfig("")
	if err != nil {
		t.Fatal(err)
	}
	base.HistoryPath, base.RecordingsDir = filepath.Join(dir, "history.jsonl"), filepath.Join(dir, "recordings")
	base.Engine.MaxTokens = 6
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	d, err := OpenDesktop(ctx, DesktopConfig{Session: base, Settings: set, SettingsPath: settingsPath, Manager: manager, Recommended: "micro-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	<-d.Loaded()
	ch, unsubscribe := d.Subscribe()
	defer unsubscribe()
	events := desktopEvents{ch}

	// First run: no model, so no dictation, until the recommended one is downloaded.
	if !d.NeedsModel() || d.Status() != "No model loaded" {
		t.Fatalf("without a model: needs %v, status %q", d.NeedsModel(), d.Status())
	}
	if name, size := d.Recommended(); name != "micro-test" || size == "" {
		t.Fatalf("recommended %q %q", name, size)
	}
	var progressed bool
	if err := d.DownloadModel(ctx, "micro-test", func(p models.Progress) { progressed = progressed || p.Done > 0 }); err != nil {
		t.Fatal(err)
	}
	if d.NeedsModel() || !progressed || !strings.Contains(d.Status(), "micro-test.bin") || !strings.Contains(d.Status(), "hotkey F9") {
		t.Fatalf("after download: status %q, progress seen %v", d.Status(), progressed)
	}
	if def, _ := manager.DefaultName(); def != "micro-test" {
		t.Errorf("default model %q", def)
	}

	// A new hotkey and mode apply at once and are saved.
	set.Hotkey, set.Mode = "F8", "toggle"
	if err := d.ApplySettings(set); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Status(), "hotkey F8") {
		t.Fatalf("status %q", d.Status())
	}
	if saved, _, _ := LoadSettings(settingsPath); saved.Hotkey != "F8" || saved.Mode != "toggle" {
		t.Fatalf("saved %+v", saved)
	}
	kb.Tap(t, "F8")
	events.waitFor(t, "recording (F8)", isState(Recording))
	speech := testenv.Speak(t, dir, "Settings apply at once.")
	pulse.Play(t, speech)
	kb.Tap(t, "F8")
	take := events.waitFor(t, "take", isTake).Take
	if take.Text == "" || take.Output != "type" {
		t.Fatalf("take after the hotkey change: %+v", take)
	}

	// A hotkey another program holds is refused; the running session stays as it was.
	hctx, hcancel := context.WithCancel(ctx)
	if _, err := hotkey.Listen(hctx, mustSpec(t, "F7"), hotkey.Options{Backend: "x11"}); err != nil {
		t.Fatal(err)
	}
	taken := set
	taken.Hotkey = "F7"
	if err := d.ApplySettings(taken); !errors.Is(err, hotkey.ErrTaken) {
		t.Fatalf("applying a taken hotkey: %v", err)
	}
	hcancel()
	if !strings.Contains(d.Status(), "hotkey F8") {
		t.Fatalf("after a refused hotkey: %q", d.Status())
	}
	if saved, _, _ := LoadSettings(settingsPath); saved.Hotkey != "F8" {
		t.Fatalf("a refused hotkey was saved: %+v", saved)
	}
	kb.Tap(t, "F8")
	events.waitFor(t, "recording (F8 again)", isState(Recording))
	time.Sleep(300 * time.Millisecond) // a release and a press in the same millisecond read as auto-repeat
	kb.Tap(t, "F8")
	events.waitFor(t, "take (F8 again)", isTake)

	// Invalid values never reach the session or the file.
	bad := set
	bad.TailMS = -1
	var fe *FieldError
	if err := d.ApplySettings(bad); !errors.As(err, &fe) || fe.Field != "tail_ms" {
		t.Fatalf("invalid tail: %v", err)
	}

	// Sounds on applies without a restart; the cues are heard by the microphone itself.
	set.Sounds = true
	if err := d.ApplySettings(set); err != nil {
		t.Fatal(err)
	}
	d.Toggle()
	events.waitFor(t, "recording (cue)", isState(Recording))
	time.Sleep(800 * time.Millisecond)
	d.Toggle()
	take = events.waitFor(t, "take (cue)", isTake).Take
	samples, err := audio.DecodeFile(context.Background(), take.AudioPath)
	if err != nil {
		t.Fatal(err)
	}
	if p := tonePower(samples, 660) + tonePower(samples, 880); p < 1e-4 {
		t.Errorf("the start cue is not in the take (power %.6f)", p)
	}
	set.Sounds = false
	if err := d.ApplySettings(set); err != nil {
		t.Fatal(err)
	}

	// Quick transcribe: the text goes to the clipboard, not the window.
	d.QuickToggle()
	events.waitFor(t, "recording (quick)", isState(Recording))
	pulse.Play(t, speech)
	d.QuickToggle()
	take = events.waitFor(t, "take (quick)", isTake).Take
	if take.Output != "clipboard" || take.Text == "" || take.Inserted != take.Text {
		t.Fatalf("quick take %+v", take)
	}
	clip := func() string {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer ccancel()
		out, _ := exec.CommandContext(cctx, testenv.Tool(t, "xclip"), "-o", "-selection", "clipboard").Output()
		return string(out)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return clip() == take.Text }) {
		t.Fatalf("clipboard %q, want %q", clip(), take.Text)
	}

	// The Settings screen's q8_0 copy, then switching to it: dictation keeps running on the
	// new model, and a file being transcribed meanwhile finishes on the old one (the switch
	// does not wait for it).
	var lastProgress float64
	copyName, err := d.MakeFasterCopy(ctx, "micro-test", func(f float64) { lastProgress = f })
	if err != nil || copyName != "micro-test-q8_0" || lastProgress != 1 {
		t.Fatalf("q8_0 copy %q, %v, progress %v", copyName, err, lastProgress)
	}
	long := filepath.Join(dir, "long.wav")
	var pcm []float32
	for len(pcm) < 70*audio.TargetRate {
		pcm = append(pcm, speechLike()...)
	}
	if err := audio.WriteWAVFile(long, pcm, audio.TargetRate); err != nil {
		t.Fatal(err)
	}
	firstWindow, resume := make(chan struct{}), make(chan struct{})
	type fileResult struct {
		tr  Transcript
		err error
	}
	fileDone := make(chan fileResult, 1)
	go func() {
		var once bool
		tr, err := d.TranscribeFile(ctx, long, func(float64) {
			if !once {
				once = true
				close(firstWindow)
				<-resume
			}
		})
		fileDone <- fileResult{tr, err}
	}()
	<-firstWindow
	if err := d.UseModel(copyName); err != nil {
		t.Fatal(err)
	}
	close(resume)
	if r := <-fileDone; r.err != nil || r.tr.Duration < 69*time.Second || len(r.tr.Segments) == 0 {
		t.Fatalf("file transcribed across the model switch: %v, %v, %d segments", r.err, r.tr.Duration, len(r.tr.Segments))
	}
	list, _ := d.Models()
	if len(list) != 2 || !strings.Contains(d.Status(), "micro-test-q8_0.bin") {
		t.Fatalf("models %+v status %q", list, d.Status())
	}
	for _, m := range list {
		if m.Current != (m.Name == copyName) {
			t.Errorf("model %s current=%v", m.Name, m.Current)
		}
	}
	kb.Tap(t, "F8")
	events.waitFor(t, "recording (new model)", isState(Recording))
	time.Sleep(300 * time.Millisecond)
	kb.Tap(t, "F8")
	events.waitFor(t, "take (new model)", isTake)
	if got, _ := os.ReadFile(settingsPath); !strings.Contains(string(got), `hotkey = "F8"`) {
		t.Errorf("settings file:\n%s", got)
	}

	// A reload for the other device that fails (here: the model file is gone) leaves the
	// running session as it was, says why, and saves nothing.
	before, _ := os.ReadFile(settingsPath)
	status := d.Status()
	inst, err := manager.Get(copyName)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(inst.Path); err != nil {
		t.Fatal(err)
	}
	flipped := set
	flipped.GPU = !set.GPU
	if err := d.ApplySettings(flipped); err == nil || !strings.Contains(err.Error(), "dictation goes on as before") {
		t.Fatalf("a failed reload: %v", err)
	}
	if !d.CanDictate() || d.Status() != status {
		t.Fatalf("after a failed reload: can dictate %v, status %q (was %q)", d.CanDictate(), d.Status(), status)
	}
	if after, _ := os.ReadFile(settingsPath); string(after) != string(before) {
		t.Errorf("a failed reload changed the settings file:\n%s", after)
	}
	kb.Tap(t, "F8")
	events.waitFor(t, "recording (after the failed reload)", isState(Recording))
	time.Sleep(300 * time.Millisecond)
	kb.Tap(t, "F8")
	events.waitFor(t, "take (after the failed reload)", isTake)
}

func mustSpec(t *testing.T, s string) hotkey.Spec {
	spec, err := hotkey.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// tonePower is the strongest power of freq in any 70 ms window of 16 kHz samples.
func tonePower(x []float32, freq float64) float64 {
	const win = 1120
	best := 0.0
	k := 2 * math.Cos(2*math.Pi*freq/16000)
	for start := 0; start+win <= len(x); start += win / 4 {
		var s1, s2 float64
		for _, v := range x[start : start+win] {
			s0 := float64(v) + k*s1 - s2
			s2, s1 = s1, s0
		}
		best = max(best, (s1*s1+s2*s2-k*s1*s2)/(win*win))
	}
	return best
}
