package audio

import (
	"math"
	"math/rand"
	"testing"
	"time"
)

// signal builds 16 kHz audio from parts: a tone burst ("speech") or noise at a level (dBFS).
type part struct {
	dur   time.Duration
	tone  bool
	level float64
}

func build(parts ...part) []float32 {
	rng := rand.New(rand.NewSource(1))
	var out []float32
	for _, p := range parts {
		amp := math.Pow(10, p.level/20) * math.Sqrt2
		for i := 0; i < int(p.dur.Seconds()*TargetRate); i++ {
			if p.tone {
				out = append(out, float32(amp*math.Sin(float64(i)*2*math.Pi*220/TargetRate)))
			} else {
				out = append(out, float32(amp*rng.NormFloat64()/math.Sqrt2))
			}
		}
	}
	return out
}

func TestGate(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name       string
		pcm        []float32
		speech     bool
		start, end time.Duration // expected trimmed range (±30 ms)
	}{
		{"digital silence", make([]float32, TargetRate*2), false, 0, 0},
		{"room noise only", build(part{2 * time.Second, false, -45}), false, 0, 0},
		{"loud fan only", build(part{2 * time.Second, false, -20}), false, 0, 0},
		{"click", build(part{time.Second, false, -60}, part{40 * ms, true, -10}, part{time.Second, false, -60}), false, 0, 0},
		{"speech in quiet room", build(part{time.Second, false, -60}, part{800 * ms, true, -25}, part{time.Second, false, -60}),
			true, 750 * ms, 2050 * ms},
		{"speech over a fan", build(part{time.Second, false, -30}, part{time.Second, true, -10}, part{500 * ms, false, -30}),
			true, 750 * ms, 2250 * ms},
		{"speech at the very start", build(part{600 * ms, true, -20}, part{time.Second, false, -55}),
			true, 0, 850 * ms},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Gate(c.pcm, GateConfig{})
			if r.Speech != c.speech {
				t.Fatalf("speech=%v, want %v (%+v)", r.Speech, c.speech, r)
			}
			if !c.speech {
				return
			}
			at := func(i int) time.Duration { return time.Duration(i) * time.Second / TargetRate }
			if d := at(r.Start) - c.start; d < -30*ms || d > 30*ms {
				t.Errorf("start %v, want %v", at(r.Start), c.start)
			}
			if d := at(r.End) - c.end; d < -30*ms || d > 30*ms {
				t.Errorf("end %v, want %v", at(r.End), c.end)
			}
		})
	}
}

func TestQuietFor(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		pcm  []float32
		want time.Duration // ±20 ms
	}{
		{"speech then room noise", build(part{400 * ms, false, -60}, part{time.Second, true, -20}, part{300 * ms, false, -60}), 300 * ms},
		{"speech then digital silence", append(build(part{400 * ms, false, -60}, part{time.Second, true, -20}), make([]float32, TargetRate/4)...), 250 * ms},
		{"still speaking at the end", build(part{400 * ms, false, -60}, part{time.Second, true, -20}), 0},
		{"a fading syllable is not quiet", build(part{400 * ms, false, -60}, part{time.Second, true, -20}, part{300 * ms, true, -45}), 0},
		{"speech over a fan, then the fan", build(part{time.Second, false, -30}, part{time.Second, true, -10}, part{400 * ms, false, -30}), 400 * ms},
		{"a steady sound has no quiet end", build(part{2 * time.Second, true, -20}), 0},
		{"room noise only", build(part{2 * time.Second, false, -45}), 0},
		{"too short to tell", build(part{10 * ms, false, -60}), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := QuietFor(c.pcm); got < c.want-20*ms || got > c.want+20*ms {
				t.Errorf("QuietFor = %v, want %v", got, c.want)
			}
		})
	}
}

func TestLastPause(t *testing.T) {
	ms := time.Millisecond
	speech := func(d time.Duration) part { return part{d, true, -20} }
	room := func(d time.Duration) part { return part{d, false, -65} }
	cases := []struct {
		name       string
		pcm        []float32
		ok         bool
		start, end time.Duration // ±20 ms
	}{
		{"pause at the end", build(room(200*ms), speech(time.Second), room(700*ms)), true, 1200 * ms, 1900 * ms},
		{"the last of two pauses", build(speech(time.Second), room(600*ms), speech(time.Second), room(800*ms), speech(500*ms)), true, 2600 * ms, 3400 * ms},
		{"too short", build(speech(time.Second), room(300*ms), speech(time.Second)), false, 0, 0},
		{"quiet before any speech is no pause", build(room(time.Second), speech(time.Second)), false, 0, 0},
		{"no speech at all", build(room(2 * time.Second)), false, 0, 0},
		{"empty", nil, false, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, end, ok := LastPause(c.pcm, 500*ms)
			if ok != c.ok {
				t.Fatalf("found %v, want %v", ok, c.ok)
			}
			near := func(samples int, want time.Duration) bool {
				d := time.Duration(samples)*time.Second/TargetRate - want
				return d < 20*ms && d > -20*ms
			}
			if ok && (!near(start, c.start) || !near(end, c.end)) {
				t.Errorf("pause %v–%v, want %v–%v", time.Duration(start)*time.Second/TargetRate, time.Duration(end)*time.Second/TargetRate, c.start, c.end)
			}
		})
	}
}
