package audio

import (
	"math"
	"sync"

	resampling "github.com/tphakala/go-audio-resampler"
)

// resampler is a streaming band-limited (polyphase FIR, soxr-style) rate converter whose
// output is aligned with its input: input sample i comes out at i·to/from, and n input
// samples give round(n·to/from) output samples.
//
// The library's direct path for non-integer down-sampling ratios (44.1 kHz → 16 kHz) applies
// no anti-alias filter (TestResampleRejectsAliases caught it), so such rates go up to
// 48 kHz first and then down by the integer ratio 3, which it filters properly.
//
// The library also takes out more than its filters' delay: its output starts 9-16 ms into
// the input (TestResampleKeepsTime), so the start of every file and take was lost and every
// time in it came early. A pipeline's advance is measured once per pair of rates, and that
// much quiet goes in first.
type resampler struct {
	stages   []*resampling.SimpleResamplerFloat32
	from, to int
	lead     int   // zeros still to feed before the first input
	skip     int   // output samples still to drop (what the lead delays past the advance)
	in, out  int64 // input samples taken, output samples given
	flushing bool
}

const intermediateRate = 48000

func newStages(from, to int) ([]*resampling.SimpleResamplerFloat32, error) {
	rates := []int{from, to}
	if from > to && from%to != 0 && intermediateRate%to == 0 {
		rates = []int{from, intermediateRate, to}
	}
	var stages []*resampling.SimpleResamplerFloat32
	for i := 0; i+1 < len(rates); i++ {
		if rates[i] == rates[i+1] {
			continue
		}
		stage, err := resampling.NewEngineFloat32(float64(rates[i]), float64(rates[i+1]), resampling.QualityHigh)
		if err != nil {
			return nil, err
		}
		stages = append(stages, stage)
	}
	return stages, nil
}

func newResampler(from, to int) (*resampler, error) {
	stages, err := newStages(from, to)
	if err != nil {
		return nil, err
	}
	advance, err := pipelineAdvance(from, to)
	if err != nil {
		return nil, err
	}
	r := &resampler{stages: stages, from: from, to: to}
	if advance > 0 {
		// Enough whole input samples of quiet to cover the advance; what they delay past it
		// (under an input sample's worth) is dropped from the output.
		r.lead = int(math.Ceil(float64(advance) * float64(from) / float64(to)))
		r.skip = int(math.Round(float64(r.lead)*float64(to)/float64(from))) - advance
	}
	return r, nil
}

// advances caches pipelineAdvance per [from, to].
var advances sync.Map

// pipelineAdvance is how many output samples early the library's pipeline from→to puts its
// input, measured with an impulse (a linear filter moves every signal alike).
func pipelineAdvance(from, to int) (int, error) {
	key := [2]int{from, to}
	if v, ok := advances.Load(key); ok {
		return v.(int), nil
	}
	stages, err := newStages(from, to)
	if err != nil {
		return 0, err
	}
	probe := make([]float32, from/2)
	at := len(probe) / 2
	probe[at] = 1
	out, err := runStages(stages, probe)
	if err != nil {
		return 0, err
	}
	peak, best := 0, float32(0)
	for i, v := range out {
		if v = max(v, -v); v > best {
			peak, best = i, v
		}
	}
	advance := int(math.Round(float64(at)*float64(to)/float64(from))) - peak
	advances.Store(key, advance)
	return advance, nil
}

// runStages passes in through the stages and drains them, pushing earlier stages' tails
// through the later ones.
func runStages(stages []*resampling.SimpleResamplerFloat32, in []float32) ([]float32, error) {
	var err error
	for _, s := range stages {
		var out, tail []float32
		if len(in) > 0 {
			if out, err = s.Process(in); err != nil {
				return nil, err
			}
		}
		if tail, err = s.Flush(); err != nil {
			return nil, err
		}
		in = append(out, tail...)
	}
	return in, nil
}

func (r *resampler) process(in []float32) ([]float32, error) {
	if len(in) == 0 {
		return nil, nil
	}
	r.in += int64(len(in))
	if r.lead > 0 {
		in = append(make([]float32, r.lead, r.lead+len(in)), in...)
		r.lead = 0
	}
	var err error
	for _, s := range r.stages {
		if len(in) == 0 {
			return nil, nil
		}
		if in, err = s.Process(in); err != nil {
			return nil, err
		}
	}
	return r.give(in), nil
}

// flush drains each stage, pushing earlier stages' tails through the later ones, and ends
// the output at round(n·to/from) samples for the n taken in, padding with quiet if the
// stages came short.
func (r *resampler) flush() ([]float32, error) {
	if r.flushing {
		return nil, nil
	}
	r.flushing = true
	var carry []float32
	if r.in > 0 {
		var err error
		if carry, err = runStages(r.stages, nil); err != nil {
			return nil, err
		}
	}
	out := r.give(carry)
	if short := r.want() - r.out; short > 0 {
		out = append(out, make([]float32, short)...)
		r.out += short
	}
	return out, nil
}

// want is how many output samples the input taken so far makes.
func (r *resampler) want() int64 {
	return int64(math.Round(float64(r.in) * float64(r.to) / float64(r.from)))
}

// give drops what the lead still delays and, once flushing, anything past the input's end.
func (r *resampler) give(out []float32) []float32 {
	if r.skip > 0 {
		n := min(r.skip, len(out))
		out, r.skip = out[n:], r.skip-n
	}
	if r.flushing {
		out = out[:max(0, min(int64(len(out)), r.want()-r.out))]
	}
	r.out += int64(len(out))
	return out
}

// Resample converts a whole mono buffer between rates.
func Resample(in []float32, from, to int) ([]float32, error) {
	if from == to {
		return append([]float32(nil), in...), nil
	}
	r, err := newResampler(from, to)
	if err != nil {
		return nil, err
	}
	out, err := r.process(in)
	if err != nil {
		return nil, err
	}
	tail, err := r.flush()
	return append(out, tail...), err
}
