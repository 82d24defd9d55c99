package audio

import (
	"fmt"
	"math"
	"testing"
)

func sine(rate int, freq, amp float64, seconds float64) []float32 {
	out := make([]float32, int(float64(rate)*seconds))
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// chirp sweeps linearly from f0 to f1 Hz.
func chirp(rate int, f0, f1, amp, seconds float64) []float32 {
	out := make([]float32, int(float64(rate)*seconds))
	for i := range out {
		t := float64(i) / float64(rate)
		out[i] = float32(amp * math.Sin(2*math.Pi*(f0*t+(f1-f0)*t*t/(2*seconds))))
	}
	return out
}

// rms over the middle of the signal, away from filter start-up and tail.
func midRMS(x []float32) float64 {
	a, b := len(x)/5, len(x)*4/5
	var sum float64
	for _, v := range x[a:b] {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(b-a))
}

func db(ratio float64) float64 { return 20 * math.Log10(ratio) }

func TestResamplePassbandFlat(t *testing.T) {
	for _, rate := range []int{11025, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 192000} {
		// Up to 7 kHz, or below the source's own Nyquist for low-rate sources.
		for f := 100.0; f <= math.Min(7000, 0.45*float64(rate)); f += 300 {
			t.Run(fmt.Sprintf("%d/%.0fHz", rate, f), func(t *testing.T) {
				in := sine(rate, f, 0.5, 1)
				out, err := Resample(in, rate, TargetRate)
				if err != nil {
					t.Fatal(err)
				}
				if want := len(in) * TargetRate / rate; math.Abs(float64(len(out)-want)) > 64 {
					t.Fatalf("got %d samples, want about %d", len(out), want)
				}
				gain := db(midRMS(out) / midRMS(in))
				if math.Abs(gain) > 0.5 {
					t.Errorf("gain %.2f dB at %.0f Hz, want within ±0.5 dB", gain, f)
				}
			})
		}
	}
}

// Every frequency above the new Nyquist must be rejected, not folded back into the band.
func TestResampleRejectsAliases(t *testing.T) {
	for _, rate := range []int{22050, 24000, 32000, 44100, 48000, 88200, 96000, 192000} {
		top := math.Min(float64(rate)/2-200, 24000)
		sweeps := [][2]float64{{8800, top}, {top, 8800}}
		for _, s := range sweeps {
			in := chirp(rate, s[0], s[1], 0.5, 2)
			out, err := Resample(in, rate, TargetRate)
			if err != nil {
				t.Fatal(err)
			}
			if rej := -db(midRMS(out) / midRMS(in)); rej < 60 {
				t.Errorf("%d Hz, sweep %.0f→%.0f Hz: alias rejection %.1f dB, want ≥ 60", rate, s[0], s[1], rej)
			}
		}
		for f := 8600.0; f < top; f += 1700 {
			out, _ := Resample(sine(rate, f, 0.5, 1), rate, TargetRate)
			if rej := -db(midRMS(out) / (0.5 / math.Sqrt2)); rej < 60 {
				t.Errorf("%d Hz: tone at %.0f Hz rejected by %.1f dB, want ≥ 60", rate, f, rej)
			}
		}
	}
}

// Input sample i must come out at i·to/from, and n samples as round(n·to/from): the
// library's pipelines put their output 9-16 ms early, which cut the start of every file and
// take and moved every time in them.
func TestResampleKeepsTime(t *testing.T) {
	for _, from := range []int{8000, 11025, 22050, 24000, 32000, 44100, 48000, 96000} {
		t.Run(fmt.Sprint(from), func(t *testing.T) {
			for _, atMS := range []int{0, 5, 100, 730} {
				in := make([]float32, from) // 1 s
				at := from * atMS / 1000
				in[at] = 1
				out, err := Resample(in, from, TargetRate)
				if err != nil {
					t.Fatal(err)
				}
				if len(out) != TargetRate {
					t.Errorf("1 s came out as %d samples, want %d", len(out), TargetRate)
				}
				peak, best := -1, 0.0
				for i, v := range out {
					if a := math.Abs(float64(v)); a > best {
						peak, best = i, a
					}
				}
				want := float64(at) * TargetRate / float64(from)
				if math.Abs(float64(peak)-want) > 1 {
					t.Errorf("a click at %d ms came out at sample %d, want %.1f (%.1f ms off)", atMS, peak, want, (float64(peak)-want)/16)
				}
			}
		})
	}
}

// The capture path feeds the resampler in blocks: it must give the same samples as one
// whole buffer, whatever the block size.
func TestResampleStreamsAsWhole(t *testing.T) {
	in := chirp(44100, 100, 7000, 0.5, 1.3)
	whole, err := Resample(in, 44100, TargetRate)
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range []int{1, 441, 1024, 4410} {
		r, err := newResampler(44100, TargetRate)
		if err != nil {
			t.Fatal(err)
		}
		var got []float32
		for i := 0; i < len(in); i += block {
			out, err := r.process(in[i:min(len(in), i+block)])
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, out...)
		}
		tail, err := r.flush()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tail...)
		if len(got) != len(whole) {
			t.Fatalf("blocks of %d: %d samples, whole: %d", block, len(got), len(whole))
		}
		for i := range got {
			if math.Abs(float64(got[i]-whole[i])) > 1e-4 {
				t.Fatalf("blocks of %d: sample %d is %v, whole gives %v", block, i, got[i], whole[i])
			}
		}
	}
}
