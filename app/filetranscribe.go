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
	windowSamples  = 30 * audio.TargetRate // whisper's window
	searchSamples  = 5 * audio.TargetRate  // look for a pause in the window's last 5 s
	quietFrameSize = audio.TargetRate / 20 // 50 ms
)

// FileProgress reports how far a file transcription has come.
type FileProgress struct {
	Done     time.Duration // audio transcribed so far
	Total    time.Duration // 0 when the length is unknown
	Fraction float64       // 0..1, or -1 when unknown
}

// TranscribeFile streams a file through the engine window by window, so memory stays
// bounded for long recordings. Windows end at the quietest 50 ms of their last 5 s rather
// than mid-word; no text is carried between windows (repetition loops in distilled models).
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
	buf := make([]float32, 0, windowSamples)
	var offset int64 // samples already transcribed
	eof := false
	for {
		if !eof && len(buf) < windowSamples {
			n, err := stream.ReadWindow(buf[len(buf):windowSamples])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return tr, err
			}
			if !eof && len(buf) < windowSamples {
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
			res, err := t.Transcribe(ctx, window, opts)
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
		if progress != nil {
			done := time.Duration(offset) * time.Second / audio.TargetRate
			frac := -1.0
			if total > 0 {
				frac = min(1, float64(done)/float64(total))
			}
			progress(FileProgress{Done: done, Total: total, Fraction: frac})
		}
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
