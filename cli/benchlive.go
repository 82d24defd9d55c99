package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testmodel"
	"github.com/dictate-app/dictate/internal/wer"
)

// LiveResult is one take of dictate bench --live.
type LiveResult struct {
	Model          string  `json:"model"`
	TargetS        float64 `json:"target_s"` // the take asked for: 5, 30 or 120 s
	TakeS          float64 `json:"take_s"`   // as spoken
	Live           bool    `json:"live"`
	ReleaseToText  float64 `json:"release_to_text_ms"`
	Tail           float64 `json:"tail_ms"`   // recorded after release
	Encode         float64 `json:"encode_ms"` // the last pass (live) or the whole take's
	Decode         float64 `json:"decode_ms"`
	Passes         int     `json:"passes"`
	Commits        int     `json:"commits"`
	CommittedWords int     `json:"words_committed_before_release"`
	DroppedBlocks  int     `json:"dropped_blocks"`
	WER            float64 `json:"wer_percent"` // against the sentences spoken; -1 for generated models
	Text           string  `json:"text"`
}

// LiveSummary is the headline: R is the 120 s take's release→text over the 5 s
// take's, both live; Q the 120 s take's live over not.
type LiveSummary struct {
	Results          []LiveResult `json:"results"`
	Live120Over5     float64      `json:"live_120s_over_5s"`
	LiveOnOverOff120 float64      `json:"live_on_over_off_120s"`
}

type benchSink struct{}

func (benchSink) Insert(context.Context, string) error { return nil }
func (benchSink) Name() string                         { return "bench" }

// benchLive dictates takes of 5, 30 and 120 s of espeak-ng speech with pauses between
// sentences, played at real-time pace into the default output while the default input
// records it (make bench gives it a PulseAudio null sink and its monitor), with
// commit-while-speaking on and off: release→text for each. A trained test model (words)
// then runs the longest takes again for the WER on and off.
func (c *CLI) benchLive(ctx context.Context, model, wordsDir string, lengths []time.Duration, threads int, jsonOut bool) error {
	sentences, err := testmodel.HeldOut(wordsDir)
	if err != nil {
		return fmt.Errorf("held-out sentences: %w", err)
	}
	tmp, err := os.MkdirTemp("", "dictate-bench-live-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	takes := make([][]float32, len(lengths))
	refs := make([]string, len(lengths))
	next := 0
	for i, l := range lengths {
		if takes[i], refs[i], next, err = speechTake(ctx, tmp, sentences, next, l); err != nil {
			return err
		}
	}
	mic, err := audio.OpenMicrophone(audio.CaptureConfig{InstantStart: true, QuietTail: true})
	if err != nil {
		return fmt.Errorf("microphone: %w", err)
	}
	defer mic.Close()
	select {
	case <-mic.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	var sum LiveSummary
	// Generated weights decode to the token cap, whatever they hear: 100 tokens is a 30 s
	// window of speech (~3.3 tokens/s), so a whole take is timed as real speech would be,
	// and each live pass as if its buffer were a full window (the pessimistic side).
	run := func(modelPath string, which []int, scored bool) error {
		maxTokens := 100
		if scored {
			maxTokens = 0 // a trained model ends its text itself
		}
		m, err := engine.Load(modelPath, app.ModelLoadOptions(true))
		if err != nil {
			return err
		}
		defer m.Close()
		for _, i := range which {
			for _, live := range []bool{true, false} {
				fmt.Fprintf(c.Stderr, "bench: %s, %.0f s take, live %v…\n", filepath.Base(modelPath), lengths[i].Seconds(), live)
				// The trained test model skips and repeats words when prompted; the
				// generated one is timed with the prompt, as the default runs.
				r, err := liveTake(ctx, mic, m, takes[i], live, !scored, threads, maxTokens)
				if err != nil {
					return err
				}
				r.Model, r.TargetS = filepath.Base(modelPath), lengths[i].Seconds()
				r.WER = -1
				if scored {
					var t wer.Tally
					t.Add(refs[i], r.Text)
					r.WER = t.Rate()
				}
				sum.Results = append(sum.Results, r)
				if !jsonOut {
					printLive(c.Stdout, r)
				}
			}
		}
		return nil
	}
	all := make([]int, len(lengths))
	for i := range all {
		all[i] = i
	}
	if err := run(model, all, false); err != nil {
		return err
	}
	// The words: the longest take again with the trained teacher.
	if err := run(testmodel.Path(wordsDir, testmodel.Teacher), all[len(all)-1:], true); err != nil {
		return err
	}
	at := func(take time.Duration, live bool) float64 {
		for _, r := range sum.Results {
			if r.Model == filepath.Base(model) && r.TargetS == take.Seconds() && r.Live == live {
				return r.ReleaseToText
			}
		}
		return 0 // not among the takes asked for
	}
	ratio := func(a, b float64) float64 {
		if a == 0 || b == 0 {
			return 0
		}
		return a / b
	}
	sum.Live120Over5 = ratio(at(120*time.Second, true), at(5*time.Second, true))
	sum.LiveOnOverOff120 = ratio(at(120*time.Second, true), at(120*time.Second, false))
	if jsonOut {
		if err := json.NewEncoder(c.Stdout).Encode(sum); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.Stdout, "SUMMARY live_120s_over_5s=%.2f live_on_over_off_120s=%.3f\n", sum.Live120Over5, sum.LiveOnOverOff120)
	return nil
}

// speechTake strings held-out sentences from index next, spoken by one voice, with pauses
// of 0.4-1.2 s between them, until the take lasts about length. It returns the audio
// (16 kHz, led by half a second of quiet), the text spoken and the next sentence's index.
func speechTake(ctx context.Context, dir string, sentences []testmodel.Sentence, next int, length time.Duration) ([]float32, string, int, error) {
	pauses := []float64{0.6, 0.9, 0.4, 1.2, 0.7}
	pcm := make([]float32, audio.TargetRate/2)
	var text []string
	for len(pcm) < int(length.Seconds()*audio.TargetRate)-audio.TargetRate {
		s := sentences[next%len(sentences)]
		s.Voice, s.Speed, s.Pitch = "en", 175, 50
		path := filepath.Join(dir, fmt.Sprintf("s%d.wav", next))
		if err := testmodel.Speak(ctx, s, path); err != nil {
			return nil, "", 0, err
		}
		x, err := audio.DecodeFile(ctx, path)
		if err != nil {
			return nil, "", 0, err
		}
		if len(pcm)+len(x) > int(length.Seconds()*audio.TargetRate)+audio.TargetRate && len(text) > 0 {
			break
		}
		pcm = append(pcm, x...)
		pcm = append(pcm, make([]float32, int(pauses[next%len(pauses)]*audio.TargetRate))...)
		text = append(text, s.Text)
		next++
	}
	return pcm, strings.Join(text, " "), next, nil
}

// liveTake plays pcm into the microphone as a hold-to-talk take (the key goes down as it
// starts and up as it ends) and returns what the history would record.
func liveTake(ctx context.Context, mic *audio.Microphone, m *engine.Model, pcm []float32, live, prompt bool, threads, maxTokens int) (LiveResult, error) {
	d := app.NewDictation(app.DictationConfig{Mode: app.ModeHold, Live: live, LivePrompt: prompt,
		Engine: engine.Options{Language: "en", Threads: threads, AudioCtxFloorMS: 10000, MaxTokens: maxTokens}},
		app.NewMicRecorder(mic), m, benchSink{}, nil)
	events, unsubscribe := d.Subscribe()
	defer unsubscribe()
	rctx, cancel := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { d.Run(rctx); close(ran) }()
	defer func() { cancel(); <-ran }()
	d.Press(time.Now())
	if err := audio.PlayBlocking(audio.Cue{Samples: pcm, Rate: audio.TargetRate}); err != nil {
		return LiveResult{}, fmt.Errorf("playing the take: %w", err)
	}
	releasedAt := time.Now()
	d.Release(releasedAt)
	committed := ""
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return LiveResult{}, ctx.Err()
			}
			switch e.Kind {
			case app.EventLive:
				if e.Time.Before(releasedAt) {
					committed = e.Live.Committed
				}
			case app.EventError:
				return LiveResult{}, e.Err
			case app.EventTake:
				r := e.Take
				return LiveResult{TakeS: float64(len(pcm)) / audio.TargetRate, Live: live, ReleaseToText: r.Latency.KeyUpToText,
					Tail: r.Latency.Tail, Encode: r.Latency.Encode, Decode: r.Latency.Decode,
					Passes: r.LivePasses, Commits: len(r.Commits), CommittedWords: len(strings.Fields(committed)),
					DroppedBlocks: r.DroppedBlocks, Text: r.Text}, nil
			}
		case <-ctx.Done():
			return LiveResult{}, ctx.Err()
		}
	}
}

func printLive(w io.Writer, r LiveResult) {
	score := ""
	if r.WER >= 0 {
		score = fmt.Sprintf(", WER %.1f %%", r.WER)
	}
	fmt.Fprintf(w, "%-26s %5.1f s take, live %-5v: release→text %6.0f ms (tail %3.0f, encode %5.0f, decode %5.0f; %d passes, %d commits, %d words before release, %d blocks dropped%s)\n",
		r.Model, r.TakeS, r.Live, r.ReleaseToText, r.Tail, r.Encode, r.Decode, r.Passes, r.Commits, r.CommittedWords, r.DroppedBlocks, score)
}
