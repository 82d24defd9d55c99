package audio

import (
	"math"
	"testing"
	"time"

	"github.com/dictate-app/dictate/assets"
	"github.com/dictate-app/dictate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// goertzel is the power of one frequency in x (normalised so a full-scale sine gives 0.25).
func goertzel(x []float32, freq, rate float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/rate)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + k*s1 - s2
		s2, s1 = s1, s0
	}
	n := float64(len(x))
	return (s1*s1 + s2*s2 - k*s1*s2) / (n * n)
}

func TestCuesDecode(t *testing.T) {
	for _, tc := range []struct {
		name        string
		wav         []byte
		first, last float64 // the note heard first and last
	}{
		{"start", assets.StartSound, 660, 880},
		{"stop", assets.StopSound, 880, 660},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadCue(tc.wav)
			if err != nil {
				t.Fatal(err)
			}
			if c.Rate != 16000 || len(c.Samples) < 2000 || len(c.Samples) > 4000 {
				t.Fatalf("rate %d, %d samples; want a 16 kHz cue of 125–250 ms", c.Rate, len(c.Samples))
			}
			half := len(c.Samples) / 2
			a, b := c.Samples[:half], c.Samples[half:]
			if goertzel(a, tc.first, 16000) < 10*goertzel(a, tc.last, 16000) || goertzel(b, tc.last, 16000) < 10*goertzel(b, tc.first, 16000) {
				t.Errorf("notes are not %g then %g Hz", tc.first, tc.last)
			}
		})
	}
	if _, err := LoadCue([]byte("RIFF....WAVEjunk")); err == nil {
		t.Error("a broken WAV loaded as a cue")
	}
}

// TestCuePlaysOnRealOutput plays the start cue through PortAudio into PulseAudio's null
// sink, whose monitor is the default input, and hears it with the real microphone code.
func TestCuePlaysOnRealOutput(t *testing.T) {
	testenv.PulseAudio(t)
	cue, err := LoadCue(assets.StartSound)
	if err != nil {
		t.Fatal(err)
	}
	mic, err := OpenMicrophone(CaptureConfig{InstantStart: true, Tail: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer mic.Close()
	<-mic.Ready()
	take, err := mic.Start(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var p Player
	asked := time.Now()
	if !p.Play(cue) {
		t.Fatal("Play refused with nothing playing")
	}
	if p.Play(cue) {
		t.Error("a second cue started while the first was playing")
	}
	if d := time.Since(asked); d > 50*time.Millisecond {
		t.Errorf("Play blocked its caller for %v", d)
	}
	p.Wait()
	played := time.Since(asked)
	time.Sleep(300 * time.Millisecond)
	a := take.Stop()
	// Find the loudest 70 ms and check both notes are there.
	best, at := 0.0, 0
	win := TargetRate * 70 / 1000
	for i := 0; i+win <= len(a.Samples); i += win / 4 {
		if e := goertzel(a.Samples[i:i+win], 660, TargetRate) + goertzel(a.Samples[i:i+win], 880, TargetRate); e > best {
			best, at = e, i
		}
	}
	t.Logf("cue played in %v; strongest note at %.2f s, power %.4f", played.Round(time.Millisecond), float64(at)/TargetRate, best)
	if best < 0.001 { // the cue's notes are at amplitude 0.3 (power 0.0225)
		t.Fatalf("the cue was not heard on the monitor (best power %.5f)", best)
	}
}
