package audio

import (
	"math"
	"sort"
	"time"
)

// GateConfig tunes the speech gate.
type GateConfig struct {
	// MarginDB: a frame is speech when it is this much louder than the noise floor.
	MarginDB float64 // default 12
	// MinLevelDB: frames quieter than this (dBFS) are never speech.
	MinLevelDB float64 // default -50
	// MinSpeech: less speech than this in a take means the take is silence.
	MinSpeech time.Duration // default 150 ms
	// Pad keeps this much audio around the detected speech when trimming.
	Pad time.Duration // default 250 ms
}

func (c *GateConfig) defaults() {
	if c.MarginDB == 0 {
		c.MarginDB = 12
	}
	if c.MinLevelDB == 0 {
		c.MinLevelDB = -50
	}
	if c.MinSpeech == 0 {
		c.MinSpeech = 150 * time.Millisecond
	}
	if c.Pad == 0 {
		c.Pad = 250 * time.Millisecond
	}
}

// GateResult says whether a take holds speech and where.
type GateResult struct {
	Speech       bool
	Start, End   int // sample range to keep (trimmed, padded)
	SpeechTime   time.Duration
	NoiseFloorDB float64
	PeakDB       float64
}

const gateFrame = TargetRate / 50 // 20 ms

// Gate finds speech in 16 kHz mono audio with an energy detector whose threshold adapts to
// the take's own noise floor (its 15th-percentile frame level), so a fan or a noisy room
// does not count as speech while quiet speech in a quiet room does.
func Gate(pcm []float32, cfg GateConfig) GateResult {
	cfg.defaults()
	levels, floor, peak := frameLevels(pcm)
	if len(levels) == 0 {
		return GateResult{NoiseFloorDB: -120, PeakDB: -120}
	}
	res := GateResult{NoiseFloorDB: floor, PeakDB: peak, Start: 0, End: 0}
	threshold := math.Max(floor+cfg.MarginDB, cfg.MinLevelDB)
	first, last, speech := -1, -1, 0
	for i, l := range levels {
		if l >= threshold {
			speech++
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	res.SpeechTime = time.Duration(speech) * 20 * time.Millisecond
	if res.SpeechTime < cfg.MinSpeech {
		return res
	}
	pad := int(cfg.Pad.Seconds() * TargetRate)
	res.Speech = true
	res.Start = max(0, first*gateFrame-pad)
	res.End = min(len(pcm), (last+1)*gateFrame+pad)
	return res
}

// frameLevels returns the level (dBFS) of each 20 ms frame, the noise floor (the
// 15th-percentile level) and the peak.
func frameLevels(pcm []float32) (levels []float64, floor, peak float64) {
	n := len(pcm) / gateFrame
	if n == 0 {
		return nil, 0, 0
	}
	levels = make([]float64, n)
	for i := range levels {
		levels[i] = 20 * math.Log10(float64(rms(pcm[i*gateFrame:(i+1)*gateFrame]))+1e-9)
	}
	sorted := append([]float64(nil), levels...)
	sort.Float64s(sorted)
	return levels, sorted[len(sorted)*15/100], sorted[len(sorted)-1]
}

// QuietFor is how long the end of 16 kHz mono audio has stayed at its background level:
// within 6 dB of its noise floor (the 15th-percentile frame level). A fading last syllable
// is louder than that, so it does not count as quiet. Audio without a background clearly
// below its peak (20 dB; a steady sound throughout) has no quiet end: 0.
func QuietFor(pcm []float32) time.Duration {
	levels, floor, peak := frameLevels(pcm)
	if len(levels) == 0 || peak-floor < 20 {
		return 0
	}
	quiet := 0
	for i := len(levels) - 1; i >= 0 && levels[i] < floor+6; i-- {
		quiet++
	}
	return time.Duration(quiet) * 20 * time.Millisecond
}

// LastPause finds the last stretch of at least min at the background level (within 6 dB
// of the noise floor, as QuietFor) that follows speech, in samples: a phrase ends at its
// start. A pause still going on at the end counts, with end = len(pcm).
func LastPause(pcm []float32, atLeast time.Duration) (start, end int, ok bool) {
	levels, floor, peak := frameLevels(pcm)
	if len(levels) == 0 || peak-floor < 20 {
		return 0, 0, false
	}
	need := int(atLeast / (20 * time.Millisecond))
	run := 0
	for i := len(levels) - 1; i >= 0; i-- {
		if levels[i] < floor+6 {
			run++
			continue
		}
		if run >= need {
			// Speech at frame i, then a long enough pause.
			end = (i + 1 + run) * gateFrame
			if i+1+run == len(levels) {
				end = len(pcm)
			}
			return (i + 1) * gateFrame, end, true
		}
		run = 0
	}
	return 0, 0, false
}
