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
