package app

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/internal/testenv"
	"github.com/dictate-app/dictate/internal/testmodel"
)

// The whole flow on Wayland, with no X server: Sway (no GlobalShortcuts portal, so the
// compositor's key binding runs dictate ctl), PulseAudio as the microphone, the real
// engine with the trained test model, and the words said typed into foot through the
// virtual keyboard, on a German layout.
func TestE2EWaylandDictation(t *testing.T) {
	sway := testenv.StartSway(t, "de")
	pulse := testenv.PulseAudio(t)
	dir := t.TempDir()
	said := robustSentences(t, testenv.WordsModel(t, testmodel.Teacher), 1)[0]
	history := filepath.Join(dir, "history.jsonl")
	env := append(sway.Env(), "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent") // no portal
	bin := testenv.Build(t, ".")
	listener := testenv.StartWith(t, env, bin, "listen", "--model", testenv.WordsModel(t, testmodel.Teacher), "--history", history,
		"--recordings", filepath.Join(dir, "recordings"), "--language", "en", "--sounds=false")
	ready := listener.WaitLine(t, "ready:", 20*time.Second)
	if !strings.Contains(ready, "dictate ctl press") || !strings.Contains(ready, "wayland") {
		t.Fatalf("ready line %q", ready)
	}
	devices := exec.Command(bin, "devices")
	devices.Env = env
	if out, _ := devices.CombinedOutput(); !strings.Contains(string(out), "wayland: Wayland virtual keyboard") ||
		!strings.Contains(string(out), "data_control") {
		t.Errorf("dictate devices does not name the Wayland output:\n%s", out)
	}
	ctl := func(cmd string) string {
		c := exec.Command(bin, "ctl", cmd)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("dictate ctl %s: %v: %s", cmd, err, out)
		}
		return string(out)
	}
	if got := ctl("press"); !strings.HasPrefix(got, "recording") {
		t.Fatalf("ctl press: %q", got)
	}
	wav := filepath.Join(dir, "take.wav")
	if err := audio.WriteWAVFile(wav, withLead(spokenClip(t, dir, 0, said)), audio.TargetRate); err != nil {
		t.Fatal(err)
	}
	pulse.Play(t, wav) // led by quiet: the null sink's monitor loses a stream's first ~80 ms
	up := time.Now()
	ctl("release")
	// The trained model hears the words: what foot shows is what was said.
	if !testenv.WaitFor(20*time.Second, func() bool { return checkHeard(said.Text, sway.Typed()) == nil }) {
		t.Fatalf("%v; listener said:\n%s", checkHeard(said.Text, sway.Typed()), listener.Output())
	}
	t.Logf("%q typed; key-up→text on Wayland: %d ms", sway.Typed(), time.Since(up).Milliseconds())
	h, _ := OpenHistory(history)
	var recs []TakeRecord
	testenv.WaitFor(10*time.Second, func() bool { recs, _, _ = h.Load(0); return len(recs) == 1 }) // kept after insertion
	if len(recs) != 1 || recs[0].Inserter != "wayland" || recs[0].Inserted != sway.Typed() {
		t.Fatalf("history %+v", recs)
	}
	if got := ctl("status"); !strings.HasPrefix(got, "idle") || !strings.Contains(got, "wayland") {
		t.Errorf("ctl status: %q", got)
	}
}
