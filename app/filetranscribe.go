package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

// Transcriber is the engine as the app uses it.
type Transcriber interface {
	Transcribe(ctx context.Context, pcm []float32, opts engine.Options) (engine.Result, error)
}

const (
	windowSamples  = 30 * audio.TargetRate     // whisper's window
	seekingSamples = 5 * 60 * audio.TargetRate // a piece for a model that seeks by sentence
	searchSamples  = 5 * audio.TargetRate      // look for a pause in a piece's last 5 s
	quietFrameSize = audio.TargetRate / 20     // 50 ms
)

// pieceSamples is how much audio goes to the engine at once. A model that decodes
// timestamps ends each 30 s window where its last sentence ends, as whisper-cli runs it;
// pieces of minutes keep that (a piece's end is a window's end the model did not choose)
// and memory bounded. First-release distilled models decode none, and whisper.cpp would
// cut them every 30 s wherever that falls: they get 30 s pieces ending at a pause.
func pieceSamples(t Transcriber) int {
	if m, ok := t.(interface{ Info() engine.ModelInfo }); ok && m.Info().Arch.Timestamps() {
		return seekingSamples
	}
	return windowSamples
}

// FileProgress reports how far a file transcription has come.
type FileProgress struct {
	Done     time.Duration // audio transcribed so far
	Total    time.Duration // 0 when the length is unknown
	Fraction float64       // 0..1, or -1 when unknown
}

// TranscribeFile streams a file through the engine piece by piece (pieceSamples), so memory
// stays bounded for long recordings. Pieces end at the quietest 50 ms of their last 5 s
// rather than mid-word; no text is carried between windows (repetition loops in distilled
// models).
//
// A panic while transcribing fails this file only (ErrInternal): a dropped file must not
// take the app and its dictation down with it.
func TranscribeFile(ctx context.Context, t Transcriber, path string, opts engine.Options, progress func(FileProgress)) (tr Transcript, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w while transcribing %s: %v\n%s", ErrInternal, filepath.Base(path), r, debug.Stack())
		}
	}()
	return transcribeFile(ctx, t, path, opts, progress)
}

// ErrInternal is a fault of Dictate's own (a panic) that failed one job; the app goes on.
var ErrInternal = errors.New("internal error (please report it)")

func transcribeFile(ctx context.Context, t Transcriber, path string, opts engine.Options, progress func(FileProgress)) (Transcript, error) {
	src, err := audio.Open(ctx, path)
	if err != nil {
		return Transcript{}, err
	}
	stream, err := audio.NewMono16k(src)
	if err != nil {
		src.Close()
		return Transcript{}, err
	}
	defer stream.Close()
	f := stream.Format()
	var total time.Duration
	if f.Frames > 0 {
		total = time.Duration(f.Frames) * time.Second / time.Duration(f.SampleRate)
	}

	tr := Transcript{File: path}
	piece := pieceSamples(t)
	buf := make([]float32, 0, piece)
	var offset int64 // samples already transcribed
	eof := false
	report := func(done int64) {
		if progress == nil {
			return
		}
		d := time.Duration(done) * time.Second / audio.TargetRate
		frac := -1.0
		if total > 0 {
			frac = min(1, float64(d)/float64(total))
		}
		progress(FileProgress{Done: d, Total: total, Fraction: frac})
	}
	for {
		if !eof && len(buf) < piece {
			n, err := stream.ReadWindow(buf[len(buf):piece])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return tr, err
			}
			if !eof && len(buf) < piece {
				continue
			}
		}
		if len(buf) == 0 {
			break
		}
		cut := len(buf)
		if !eof {
			cut = quietestCut(buf)
		}
		window := buf[:cut]
		start := time.Duration(offset) * time.Second / audio.TargetRate
		if !isSilent(window) {
			o := opts
			if piece > windowSamples && progress != nil {
				// A piece takes minutes: whisper's own progress through it moves the bar.
				o.Progress = func(percent int) { report(offset + int64(cut)*int64(min(percent, 100))/100) }
			}
			res, err := t.Transcribe(ctx, window, o)
			if err != nil && !errors.Is(err, engine.ErrEmptyAudio) {
				return tr, err
			}
			if tr.Language == "" {
				tr.Language = res.Language
			}
			tr.Device = res.Device
			for _, s := range res.Segments {
				s.Start += start
				s.End += start
				tr.Segments = append(tr.Segments, s)
			}
		}
		offset += int64(cut)
		buf = append(buf[:0], buf[cut:]...)
		report(offset)
		if eof && len(buf) == 0 {
			break
		}
	}
	tr.Duration = time.Duration(offset) * time.Second / audio.TargetRate
	return tr, nil
}

// quietestCut returns the end of the quietest 50 ms frame in the window's last 5 s.
func quietestCut(buf []float32) int {
	best, bestEnergy := len(buf), math.Inf(1)
	for end := len(buf); end-quietFrameSize >= len(buf)-searchSamples; end -= quietFrameSize {
		var e float64
		for _, v := range buf[end-quietFrameSize : end] {
			e += float64(v) * float64(v)
		}
		if e < bestEnergy {
			best, bestEnergy = end, e
		}
	}
	return best
}

// isSilent is true for digital silence, which whisper would fill with hallucinations.
func isSilent(pcm []float32) bool {
	for _, v := range pcm {
		if v > 1e-4 || v < -1e-4 {
			return false
		}
	}
	return true
}
