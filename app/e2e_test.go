package app

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/internal/testenv"
)

// End-to-end dictation on real parts: Xvfb with a focused X11 text window, PulseAudio
// whose default source is a null sink's monitor (paplay into it is what the microphone
// hears), XTest key events, the real dictate binary with a generated model.

type e2e struct {
	t        *testing.T
	dir      string
	winText  string
	history  string
	recs     string
	pulse    *testenv.Pulse
	kb       *testenv.Keyboard
	listener *testenv.Process
}

const e2eHotkey = "F9"

func startE2E(t *testing.T, output string, winArgs ...string) *e2e {
	return startE2EWith(t, testenv.Model(t, "micro"), output, winArgs...)
}

// startE2EWith is startE2E with another model.
func startE2EWith(t *testing.T, model, output string, winArgs ...string) *e2e {
	return startE2EListener(t, model, output, 6, winArgs...)
}

// startE2EListener is startE2EWith with a cap on tokens per window (0: none): generated
// models decode until the cap, a trained one until the sentence ends.
func startE2EListener(t *testing.T, model, output string, maxTokens int, winArgs ...string) *e2e {
	return startE2EListenerWith(t, model, output, maxTokens, nil, winArgs...)
}

// startE2EListenerWith is startE2EListener with more listen flags.
func startE2EListenerWith(t *testing.T, model, output string, maxTokens int, listenArgs []string, winArgs ...string) *e2e {
	testenv.X(t)
	e := &e2e{t: t, dir: t.TempDir(), pulse: testenv.PulseAudio(t), kb: testenv.NewKeyboard(t)}
	e.history = filepath.Join(e.dir, "history.jsonl")
	e.recs = filepath.Join(e.dir, "recordings")
	e.winText, _ = testenv.TextWindow(t, winArgs...)
	args := []string{"listen", "--model", model,
		"--hotkey", e2eHotkey, "--output", output, "--history", e.history, "--recordings", e.recs,
		"--max-tokens", strconv.Itoa(maxTokens), "--language", "en", "--sounds=false", // a cue would be heard by the microphone
		"--live-prompt=false"} // the test models skip and repeat words when prompted (README, Live text)
	e.listener = testenv.Start(t, testenv.Build(t, "."), append(args, listenArgs...)...)
	e.listener.WaitLine(t, "ready:", 20*time.Second)
	return e
}

func (e *e2e) key(down bool) time.Time {
	e.t.Helper()
	at := time.Now()
	if down {
		e.kb.Down(e.t, e2eHotkey)
	} else {
		e.kb.Up(e.t, e2eHotkey)
	}
	return at
}

func (e *e2e) takes() []TakeRecord {
	h, _ := OpenHistory(e.history)
	recs, _, _ := h.Load(0)
	return recs
}

func (e *e2e) waitTake(n int) TakeRecord {
	e.t.Helper()
	if !testenv.WaitFor(30*time.Second, func() bool { return len(e.takes()) >= n }) {
		e.t.Fatalf("no take %d in the history; listener said:\n%s", n, e.listener.Output())
	}
	return e.takes()[n-1]
}

func (e *e2e) window() string {
	b, _ := os.ReadFile(e.winText)
	return string(b)
}

// dictate holds the hotkey while a file plays and returns the key-down and key-up times.
func (e *e2e) dictate(wav string) (down, up time.Time) { return e.dictatePausing(wav, 0) }

// dictatePausing is dictate with the key released pause after the file has played, as a
// user who finishes speaking and then lets go.
func (e *e2e) dictatePausing(wav string, pause time.Duration) (down, up time.Time) {
	down = e.key(true)
	if wav != "" {
		e.pulse.Play(e.t, wav)
	} else {
		time.Sleep(time.Second)
	}
	time.Sleep(pause)
	return down, e.key(false)
}

// waitWindow waits until the window holds want and returns when it first did.
func (e *e2e) waitWindow(want string) time.Time {
	e.t.Helper()
	if !testenv.WaitFor(20*time.Second, func() bool { return e.window() == want }) {
		e.t.Fatalf("window holds %q, want %q; listener said:\n%s", e.window(), want, e.listener.Output())
	}
	return time.Now()
}

func TestE2EDictationTypes(t *testing.T) {
	e := startE2E(t, "type")
	speech := testenv.Speak(t, e.dir, "Hello from the end to end test.")
	down, up := e.dictate(speech)
	rec := e.waitTake(1)
	if rec.Text == "" || rec.Dropped != "" || rec.Error != "" {
		t.Fatalf("take %+v; listener said:\n%s", rec, e.listener.Output())
	}
	shown := e.waitWindow(rec.Text)
	t.Logf("typed %q", rec.Text)
	t.Logf("key-down→first-sample: %.0f ms (instant start: the take holds %.0f ms from before key-down)",
		rec.Latency.KeyDownToFirstSample, rec.Latency.PreRoll)
	t.Logf("key-up→text: %d ms (app: %.0f ms = tail %.0f + gate %.1f + encode %.0f + decode %.0f + insert %.0f)",
		shown.Sub(up).Milliseconds(), rec.Latency.KeyUpToText, rec.Latency.Tail, rec.Latency.Gate,
		rec.Latency.Encode, rec.Latency.Decode, rec.Latency.Insert)
	_ = down
	if rec.Latency.PreRoll <= 0 && rec.Latency.KeyDownToFirstSample <= 0 {
		t.Errorf("neither pre-roll nor a first-sample time recorded: %+v", rec.Latency)
	}

	// A second take continues the text with a space, as the joiner decides. This time the
	// key is let go 400 ms after the speech: the quiet tail then ends early.
	_, up = e.dictatePausing(speech, 400*time.Millisecond)
	rec2 := e.waitTake(2)
	shown = e.waitWindow(rec.Text + rec2.Inserted)
	if !strings.HasPrefix(rec2.Inserted, " ") {
		t.Errorf("second take inserted %q without a joining space: %+v", rec2.Inserted, rec2)
	}
	t.Logf("released 400 ms after the speech: key-up→text: %d ms (tail %.0f + gate %.1f + encode %.0f + decode %.0f + insert %.0f)",
		shown.Sub(up).Milliseconds(), rec2.Latency.Tail, rec2.Latency.Gate, rec2.Latency.Encode, rec2.Latency.Decode, rec2.Latency.Insert)
}

func TestE2EDictationPastesAndRestoresClipboard(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{{"editor", nil}, {"terminal", []string{"-terminal", "-class", "XTerm"}}} {
		t.Run(c.name, func(t *testing.T) {
			e := startE2E(t, "paste", c.args...)
			xclip := testenv.Tool(t, "xclip")
			setClip := exec.Command(xclip, "-selection", "clipboard")
			setClip.Stdin = strings.NewReader("OLD CLIPBOARD")
			// No output pipes: xclip forks to serve the selection and would hold them open.
			if err := setClip.Run(); err != nil {
				t.Fatalf("xclip: %v", err)
			}
			speech := testenv.Speak(t, e.dir, "Paste this into the window please.")
			_, up := e.dictate(speech)
			rec := e.waitTake(1)
			if rec.Text == "" || rec.Output != "paste" {
				t.Fatalf("take %+v", rec)
			}
			shown := e.waitWindow(rec.Text)
			t.Logf("key-up→text (paste, %s): %d ms", c.name, shown.Sub(up).Milliseconds())
			clip := func() string {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				out, _ := exec.CommandContext(ctx, xclip, "-o", "-selection", "clipboard").Output()
				return string(out)
			}
			if !testenv.WaitFor(5*time.Second, func() bool { return clip() == "OLD CLIPBOARD" }) {
				t.Fatalf("clipboard holds %q after the paste, want the old content back", clip())
			}
		})
	}
}

func TestE2ESilentTakeTypesNothing(t *testing.T) {
	e := startE2E(t, "type")
	e.dictate("")
	rec := e.waitTake(1)
	if rec.Dropped != "silence" || rec.Text != "" {
		t.Fatalf("silent take %+v", rec)
	}
	time.Sleep(300 * time.Millisecond)
	if w := e.window(); w != "" {
		t.Fatalf("window got %q from silence", w)
	}
}

// The capture path keeps every part of a known signal: a 1 kHz burst right at key-down, a
// 440 Hz tone whose level, pitch and position are measured, and a burst just before key-up.
func TestE2ESignalCapture(t *testing.T) {
	e := startE2E(t, "type")
	const rate = 48000
	var sig []float32
	add := func(d time.Duration, freq, amp float64) {
		n := int(d.Seconds() * rate)
		for i := 0; i < n; i++ {
			sig = append(sig, float32(amp*math.Sin(2*math.Pi*freq*float64(i)/rate)))
		}
	}
	// Lead-in: PulseAudio's null-sink monitor, read in 100 ms blocks, never delivers the first
	// tens of ms of a playback stream that starts meanwhile (measured: a burst at 0 ms was
	// lost every time). A real microphone has no such gap; the pattern starts after it.
	add(250*time.Millisecond, 0, 0)
	add(60*time.Millisecond, 1000, 0.5) // burst A at 250 ms
	add(440*time.Millisecond, 0, 0)
	add(time.Second, 440, 0.25) // tone at 500 ms
	add(440*time.Millisecond, 0, 0)
	add(60*time.Millisecond, 1000, 0.5) // burst B at 2.19 s, just before key-up
	wav := filepath.Join(e.dir, "pattern.wav")
	var buf bytes.Buffer
	if err := audio.WriteWAV(&buf, sig, rate, 1); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(wav, buf.Bytes(), 0o644)

	e.dictate(wav)
	rec := e.waitTake(1)
	if rec.AudioPath == "" {
		t.Fatalf("take not saved: %+v", rec)
	}
	pcm, err := audio.DecodeFile(context.Background(), rec.AudioPath)
	if err != nil {
		t.Fatal(err)
	}
	// 10 ms frames: energy at 1 kHz and at 440 Hz.
	const frame = audio.TargetRate / 100
	band := func(i int, f float64) float64 {
		var re, im float64
		for k, v := range pcm[i*frame : (i+1)*frame] {
			w := 2 * math.Pi * f * float64(k) / audio.TargetRate
			re += float64(v) * math.Cos(w)
			im += float64(v) * math.Sin(w)
		}
		return 2 * math.Sqrt(re*re+im*im) / frame
	}
	var bursts []int
	toneStart, toneEnd := -1, -1
	for i := 0; i < len(pcm)/frame; i++ {
		if band(i, 1000) > 0.2 && (len(bursts) == 0 || i-bursts[len(bursts)-1] > 20) {
			bursts = append(bursts, i)
		}
		if band(i, 440) > 0.1 {
			if toneStart < 0 {
				toneStart = i
			}
			toneEnd = i
		}
	}
	t.Logf("take %.2f s: bursts at %v (×10 ms), tone %d–%d", float64(len(pcm))/audio.TargetRate, bursts, toneStart, toneEnd)
	if len(bursts) != 2 || toneStart < 0 {
		t.Fatalf("captured %d bursts and tone at %d; the take lost part of the signal", len(bursts), toneStart)
	}
	// Burst A plays about 250 ms after key-down, after the 300 ms of pre-roll.
	if bursts[0] < 50 || bursts[0] > 100 {
		t.Errorf("burst A at %d ms into the take, want 550–1000: the start was clipped or delayed", bursts[0]*10)
	}
	if d := toneStart - bursts[0]; d < 47 || d > 53 {
		t.Errorf("tone starts %d ms after burst A, want 500 (audio dropped or stretched)", d*10)
	}
	if d := bursts[1] - bursts[0]; d < 191 || d > 197 {
		t.Errorf("burst B %d ms after burst A, want 1940", d*10)
	}
	if d := toneEnd - toneStart; d < 97 || d > 101 {
		t.Errorf("tone lasts %d ms, want 1000", d*10)
	}
	tone := pcm[(toneStart+10)*frame : (toneEnd-10)*frame]
	level := 0.0
	for _, v := range tone {
		level += float64(v) * float64(v)
	}
	level = math.Sqrt(level/float64(len(tone))) * math.Sqrt2
	if d := 20 * math.Log10(level/0.25); math.Abs(d) > 1 {
		t.Errorf("tone amplitude %.3f, want 0.25 (%.2f dB off)", level, d)
	}
	crossings := 0
	for i := 1; i < len(tone); i++ {
		if (tone[i-1] < 0) != (tone[i] < 0) {
			crossings++
		}
	}
	freq := float64(crossings) / 2 / (float64(len(tone)) / audio.TargetRate)
	if math.Abs(freq-440) > 3 {
		t.Errorf("tone at %.1f Hz, want 440: the sample rate is off", freq)
	}
	t.Logf("tone %.3f amplitude, %.1f Hz", level, freq)
}

// The audio server restarting (suspend, a Bluetooth change, an upgrade) does not end
// dictation: a take cut by the restart keeps its audio and is transcribed, the listener
// says the microphone went and came back, and the next takes work. Before, every take
// after the restart failed with "the microphone stopped delivering audio".
func TestE2EAudioServerRestart(t *testing.T) {
	e := startE2E(t, "type")
	speech := testenv.Speak(t, e.dir, "Before the restart.")
	e.dictate(speech)
	if rec := e.waitTake(1); rec.Text == "" || rec.Error != "" {
		t.Fatalf("take before the restart: %+v", rec)
	}

	// Between takes.
	e.pulse.Restart(t)
	e.listener.WaitLine(t, "microphone is back", 20*time.Second)
	e.dictate(speech)
	if rec := e.waitTake(2); rec.Text == "" || rec.Error != "" || rec.Dropped != "" {
		t.Fatalf("take after a restart between takes: %+v; listener said:\n%s", rec, e.listener.Output())
	}

	// In the middle of a take: what was recorded is kept and transcribed.
	e.key(true)
	e.pulse.Play(t, speech)
	e.pulse.Restart(t)
	e.key(false)
	if cut := e.waitTake(3); cut.Text == "" || cut.AudioPath == "" || cut.Audio < 1 {
		t.Fatalf("take cut by the restart: %+v", cut)
	}
	// As between takes, the next take comes once the microphone is back: speech played
	// while the server still starts is never delivered (CI: a take begun then waited 3.7 s
	// for its stream's first block and held 0.4 s of the speech).
	if !testenv.WaitFor(20*time.Second, func() bool { return strings.Count(e.listener.Output(), "microphone is back") >= 2 }) {
		t.Fatalf("the microphone did not come back after a restart mid-take; listener said:\n%s", e.listener.Output())
	}
	e.dictate(speech)
	if rec := e.waitTake(4); rec.Text == "" || rec.Error != "" || rec.Dropped != "" {
		t.Fatalf("take after a restart mid-take: %+v; listener said:\n%s", rec, e.listener.Output())
	}
	t.Logf("listener said:\n%s", e.listener.Output())
}

// A spoken "Thank you." is a reply, not a hallucination: typed. The model here says "Thank
// you." whatever it hears, so the same text from a take that only holds a click (a
// fraction of a second above the room) is dropped. Before, both were dropped.
func TestE2EShortReplyIsTyped(t *testing.T) {
	e := startE2EWith(t, testenv.SayingModel(t, "Thank you."), "type")
	e.dictate(testenv.Speak(t, e.dir, "Thank you."))
	rec := e.waitTake(1)
	if rec.Text != "Thank you." || rec.Dropped != "" {
		t.Fatalf("spoken reply: %+v", rec)
	}
	e.waitWindow("Thank you.")

	const rate = 48000
	// 220 ms of a loud buzz between quiet: over the gate's 150 ms, under the 300 ms of
	// voice a reply has. The quiet lead keeps the buzz whole when playback starts late.
	click := make([]float32, rate*9/10)
	for i := range rate * 22 / 100 {
		click[rate*3/10+i] = float32(0.3 * math.Sin(2*math.Pi*120*float64(i)/rate))
	}
	var buf bytes.Buffer
	if err := audio.WriteWAV(&buf, click, rate, 1); err != nil {
		t.Fatal(err)
	}
	clickWAV := filepath.Join(e.dir, "click.wav")
	os.WriteFile(clickWAV, buf.Bytes(), 0o644)
	e.dictate(clickWAV)
	if rec := e.waitTake(2); rec.Dropped != "hallucination" || rec.Inserted != "" {
		t.Fatalf("a click that came out as %q: %+v", "Thank you.", rec)
	}
	if w := e.window(); w != "Thank you." {
		t.Fatalf("window %q after the click", w)
	}
}
