package audio

import (
	resampling "github.com/tphakala/go-audio-resampler"
)

// resampler is a streaming band-limited (polyphase FIR, soxr-style) rate converter.
//
// The library's direct path for non-integer down-sampling ratios (44.1 kHz → 16 kHz) applies
// no anti-alias filter (TestResampleRejectsAliases caught it), so such rates go up to
// 48 kHz first and then down by the integer ratio 3, which it filters properly.
type resampler struct {
	stages []*resampling.SimpleResamplerFloat32
}

const intermediateRate = 48000

func newResampler(from, to int) (*resampler, error) {
	rates := []int{from, to}
	if from > to && from%to != 0 && intermediateRate%to == 0 {
		rates = []int{from, intermediateRate, to}
	}
	r := &resampler{}
	for i := 0; i+1 < len(rates); i++ {
		if rates[i] == rates[i+1] {
			continue
		}
		stage, err := resampling.NewEngineFloat32(float64(rates[i]), float64(rates[i+1]), resampling.QualityHigh)
		if err != nil {
			return nil, err
		}
		r.stages = append(r.stages, stage)
	}
	return r, nil
}

func (r *resampler) process(in []float32) ([]float32, error) {
	var err error
	for _, s := range r.stages {
		if len(in) == 0 {
			return nil, nil
		}
		if in, err = s.Process(in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// flush drains each stage, pushing earlier stages' tails through the later ones.
func (r *resampler) flush() ([]float32, error) {
	var carry []float32
	for _, s := range r.stages {
		var out []float32
		if len(carry) > 0 {
			o, err := s.Process(carry)
			if err != nil {
				return nil, err
			}
			out = append(out, o...)
		}
		tail, err := s.Flush()
		if err != nil {
			return nil, err
		}
		carry = append(out, tail...)
	}
	return carry, nil
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
