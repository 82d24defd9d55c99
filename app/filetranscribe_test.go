package app

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

// fakeEngine records the windows it is given and returns one segment per window.
type fakeEngine struct{ windows []int }

func (f *fakeEngine) Transcribe(ctx context.Context, pcm []float32, opts engine.Options) (engine.Result, error) {
	f.windows = append(f.windows, len(pcm))
	d := time.Duration(len(pcm)) * time.Second / audio.TargetRate
	return engine.Result{Language: "en", Segments: []engine.Segment{{Start: 0, End: d, Text: "w"}}}, nil
}

// tonesWithGaps writes a WAV of tone bursts separated by short pauses, with a silent stretch.
func tonesWithGaps(t *testing.T, seconds int, silentFrom, silentTo int) string {
	pcm := make([]float32, seconds*audio.TargetRate)
	for i := range pcm {
		sec := i / audio.TargetRate
		inGap := (i % (7 * audio.TargetRate / 2)) < audio.TargetRate/5 // 200 ms pause every 3.5 s
		if !inGap && (sec < silentFrom || sec >= silentTo) {
			pcm[i] = float32(0.3 * math.Sin(float64(i)*0.2))
		}
	}
	path := filepath.Join(t.TempDir(), "long.wav")
	f, _ := os.Create(path)
	defer f.Close()
	if err := audio.WriteWAV(f, pcm, audio.TargetRate, 1); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTranscribeFileWindows(t *testing.T) {
	path := tonesWithGaps(t, 130, 60, 125)
	fake := &fakeEngine{}
	var last FileProgress
	tr, err := TranscribeFile(context.Background(), fake, path, engine.Options{}, func(p FileProgress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, w := range fake.windows {
		if w > windowSamples {
			t.Errorf("window %d has %d samples, over 30 s", i, w)
		}
		total += w
	}
	if tr.Duration != 130*time.Second || last.Fraction != 1 || last.Total != 130*time.Second {
		t.Errorf("duration %v, last progress %+v", tr.Duration, last)
	}
	// A window inside the digitally silent stretch 60–125 s is never sent to the engine.
	if total >= 130*audio.TargetRate {
		t.Errorf("windows cover %d samples: silence was sent to the engine", total)
	}
	// Segments are shifted to file time and ordered; cuts fall in the pauses.
	var prev time.Duration
	for i, s := range tr.Segments {
		if s.Start < prev {
			t.Errorf("segment %d starts at %v before %v", i, s.Start, prev)
		}
		prev = s.End
		if i < len(tr.Segments)-1 {
			pos := int(s.End.Seconds()*audio.TargetRate) % (7 * audio.TargetRate / 2)
			if pos > audio.TargetRate/5 && s.End < 60*time.Second {
				t.Errorf("window cut at %v is not in a pause", s.End)
			}
		}
	}
}

// seekingEngine is a fakeEngine whose model decodes timestamps, and which reports its
// progress through each piece as whisper.cpp does.
type seekingEngine struct {
	fakeEngine
	layers   int
	progress []FileProgress // what the file's progress said during the engine's reports
	last     *FileProgress
}

func (s *seekingEngine) Info() engine.ModelInfo {
	return engine.ModelInfo{Arch: engine.Arch{NVocab: 51864, NTextLayer: s.layers}}
}

func (s *seekingEngine) Transcribe(ctx context.Context, pcm []float32, opts engine.Options) (engine.Result, error) {
	if opts.Progress != nil {
		opts.Progress(50)
		s.progress = append(s.progress, *s.last)
	}
	return s.fakeEngine.Transcribe(ctx, pcm, opts)
}

// A model that decodes timestamps gets pieces of minutes (whisper.cpp ends its windows at
// sentence ends, as whisper-cli runs it), ending in a pause, and the bar moves within a
// piece; a first-release distilled one (two decoder layers) keeps 30 s windows.
func TestTranscribeFilePiecesForSeekingModels(t *testing.T) {
	path := tonesWithGaps(t, 420, 500, 500) // 7 minutes of tones with pauses
	for _, tc := range []struct {
		layers     int
		most       int
		wantPieces int
	}{
		{4, seekingSamples, 2},
		{2, windowSamples, 15},
	} {
		var last FileProgress
		eng := &seekingEngine{layers: tc.layers, last: &last}
		tr, err := TranscribeFile(context.Background(), eng, path, engine.Options{}, func(p FileProgress) { last = p })
		if err != nil {
			t.Fatal(err)
		}
		if len(eng.windows) != tc.wantPieces {
			t.Errorf("%d layers: %d pieces %v, want %d", tc.layers, len(eng.windows), eng.windows, tc.wantPieces)
		}
		for i, w := range eng.windows {
			if w > tc.most || i < len(eng.windows)-1 && w < tc.most-searchSamples {
				t.Errorf("%d layers: piece %d has %d samples, want %d-%d", tc.layers, i, w, tc.most-searchSamples, tc.most)
			}
		}
		if tr.Duration != 420*time.Second || last.Fraction != 1 {
			t.Errorf("%d layers: duration %v, last progress %+v", tc.layers, tr.Duration, last)
		}
		if tc.layers == 2 {
			if len(eng.progress) != 0 {
				t.Errorf("30 s windows got the engine's progress: %v", eng.progress)
			}
			continue
		}
		// Halfway through the first piece (whisper's 50 %), the bar shows half that piece.
		if len(eng.progress) != 2 {
			t.Fatalf("progress during pieces: %v", eng.progress)
		}
		half := time.Duration(eng.windows[0]/2) * time.Second / audio.TargetRate
		if got := eng.progress[0].Done; got < half-time.Millisecond || got > half+time.Millisecond {
			t.Errorf("progress halfway through the first piece %v, want %v", got, half)
		}
	}
}

func TestTranscribeFileCancelled(t *testing.T) {
	path := tonesWithGaps(t, 40, 100, 100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := TranscribeFile(ctx, cancelAware{}, path, engine.Options{}, nil)
	if err != context.Canceled {
		t.Fatalf("error %v", err)
	}
}

type cancelAware struct{}

func (cancelAware) Transcribe(ctx context.Context, pcm []float32, opts engine.Options) (engine.Result, error) {
	return engine.Result{}, ctx.Err()
}

// panickyEngine panics on the file named panicOn, as a decoder or engine bug would.
type panickyEngine struct {
	fakeEngine
	calls int
}

func (p *panickyEngine) Transcribe(ctx context.Context, pcm []float32, opts engine.Options) (engine.Result, error) {
	p.calls++
	if p.calls == 1 {
		var table map[string]int
		table["boom"]++ // a nil map write: a real runtime panic
	}
	return p.fakeEngine.Transcribe(ctx, pcm, opts)
}

// A panic inside one file's transcription fails that file with ErrInternal and its story;
// the next file goes through, and the process lives on.
func TestPanicFailsOnlyThatFile(t *testing.T) {
	path := tonesWithGaps(t, 3, 10, 10)
	eng := &panickyEngine{}
	_, err := TranscribeFile(context.Background(), eng, path, engine.Options{}, nil)
	if !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), "nil map") || !strings.Contains(err.Error(), "long.wav") {
		t.Fatalf("panicking file: %v", err)
	}
	if tr, err := TranscribeFile(context.Background(), eng, path, engine.Options{}, nil); err != nil || len(tr.Segments) == 0 {
		t.Fatalf("the next file: %v, %d segments", err, len(tr.Segments))
	}
}
