package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testmodel"
	"github.com/dictate-app/dictate/internal/wer"
)

// WordsResult is one trained test model scored on the held-out sentences.
type WordsResult struct {
	Model        string  `json:"model"`
	TextLayers   int     `json:"decoder_layers"`
	Words        int     `json:"words"`
	AppWER       float64 `json:"app_wer"`          // as dictation runs it: 10 s audio-context floor
	AppFullWER   float64 `json:"app_full_ctx_wer"` // the full 30 s window
	CLIWER       float64 `json:"whisper_cli_wer"`  // whisper-cli on the same files, greedy, no fallback
	DecodeMS     float64 `json:"decode_ms_per_token"`
	EncodeMS     float64 `json:"encode_ms_per_take"`     // 10 s floor
	Mismatches   int     `json:"app_vs_cli_differences"` // sentences whose words differ, same window
	FirstMistake string  `json:"first_mistake,omitempty"`
}

// WordsSummary compares the two models.
type WordsSummary struct {
	Sentences int           `json:"sentences"`
	LeadMS    float64       `json:"lead_ms,omitempty"` // quiet before each trimmed sentence; 0: espeak-ng's clips as made
	Results   []WordsResult `json:"results"`
}

// benchWords scores the trained test models on their held-out sentences, spoken by
// espeak-ng as in training: through the app's engine (with and without the audio-context
// trim) and through Debian's whisper-cli on the same files. With lead, espeak-ng's own
// silence (0-60 ms before the speech) is trimmed and lead of quiet put before it.
func (c *CLI) benchWords(ctx context.Context, dir string, limit int, lead time.Duration, threads int, jsonOut bool) error {
	sentences, err := testmodel.HeldOut(dir)
	if err != nil {
		return fmt.Errorf("held-out sentences: %w (scripts/train-test-model writes them)", err)
	}
	if limit > 0 && limit < len(sentences) {
		sentences = sentences[:limit]
	}
	tmp, err := os.MkdirTemp("", "dictate-bench-words-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	wavs := make([]string, len(sentences))
	pcms := make([][]float32, len(sentences))
	for i, s := range sentences {
		spoken := filepath.Join(tmp, fmt.Sprintf("s%03d-espeak.wav", i))
		if err := testmodel.Speak(ctx, s, spoken); err != nil {
			return err
		}
		pcm, err := audio.DecodeFile(ctx, spoken)
		if err != nil {
			return err
		}
		if lead > 0 {
			pcm = append(make([]float32, int(lead.Seconds()*engine.SampleRate)), testmodel.TrimSilence(pcm)...)
		}
		// whisper-cli gets the same 16 kHz samples as the app: its own resampler would
		// make the two differ for reasons that are not theirs. The app reads them back
		// from the 16-bit file too (float samples made 3 of 80 sentences differ).
		wavs[i] = filepath.Join(tmp, fmt.Sprintf("s%03d.wav", i))
		if err := audio.WriteWAVFile(wavs[i], pcm, engine.SampleRate); err != nil {
			return err
		}
		if pcms[i], err = audio.DecodeFile(ctx, wavs[i]); err != nil {
			return err
		}
	}
	sum := WordsSummary{Sentences: len(sentences), LeadMS: app.Millis(lead)}
	for _, which := range []string{testmodel.Teacher, testmodel.Student} {
		r, err := scoreWords(ctx, testmodel.Path(dir, which), which, sentences, pcms, wavs, threads)
		if err != nil {
			return fmt.Errorf("%s: %w", which, err)
		}
		sum.Results = append(sum.Results, r)
	}
	if jsonOut {
		return json.NewEncoder(c.Stdout).Encode(sum)
	}
	printWords(c.Stdout, sum)
	return nil
}

func scoreWords(ctx context.Context, model, name string, sentences []testmodel.Sentence, pcms [][]float32, wavs []string, threads int) (WordsResult, error) {
	m, err := engine.Load(model, app.ModelLoadOptions(false))
	if err != nil {
		return WordsResult{}, err
	}
	defer m.Close()
	res := WordsResult{Model: name, TextLayers: m.Info().Arch.NTextLayer}
	var trimmed, full, cli wer.Tally
	var decode, encode time.Duration
	tokens := 0
	fullTexts := make([]string, len(sentences))
	for i, s := range sentences {
		opts := engine.Options{Language: "en", Threads: threads, AudioCtxFloorMS: 10000}
		r, err := m.Transcribe(ctx, pcms[i], opts)
		if err != nil {
			return res, err
		}
		if trimmed.Add(s.Text, r.Text) > 0 && res.FirstMistake == "" {
			res.FirstMistake = fmt.Sprintf("%q heard as %q", s.Text, strings.TrimSpace(r.Text))
		}
		decode += r.Timings.Decode
		encode += r.Timings.Encode
		tokens += r.Timings.Tokens
		r, err = m.Transcribe(ctx, pcms[i], engine.Options{Language: "en", Threads: threads})
		if err != nil {
			return res, err
		}
		full.Add(s.Text, r.Text)
		fullTexts[i] = r.Text
	}
	res.Words = trimmed.Words
	res.AppWER, res.AppFullWER = trimmed.Rate(), full.Rate()
	if tokens > 0 {
		res.DecodeMS = app.Millis(decode) / float64(tokens)
	}
	res.EncodeMS = app.Millis(encode) / float64(len(sentences))
	cliTexts, err := whisperCLITexts(ctx, model, wavs, threads)
	if err != nil {
		return res, err
	}
	for i, s := range sentences {
		cli.Add(s.Text, cliTexts[i])
		if wer.Errors(wer.Words(fullTexts[i]), wer.Words(cliTexts[i])) > 0 {
			res.Mismatches++
		}
	}
	res.CLIWER = cli.Rate()
	return res, nil
}

// whisperCLITexts runs whisper-cli once over every file (greedy, no temperature fallback,
// as the app) and returns each file's text.
func whisperCLITexts(ctx context.Context, model string, wavs []string, threads int) ([]string, error) {
	bin, err := exec.LookPath("whisper-cli")
	if err != nil {
		return nil, err
	}
	args := whisperCLIArgs(model, threads, "-np", "-otxt")
	for _, w := range wavs {
		args = append(args, "-f", w)
	}
	if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("whisper-cli: %v: %s", err, lastLine(out))
	}
	texts := make([]string, len(wavs))
	for i, w := range wavs {
		b, err := os.ReadFile(w + ".txt")
		if err != nil {
			return nil, errors.New("whisper-cli wrote no text for " + filepath.Base(w))
		}
		texts[i] = strings.Join(strings.Fields(string(b)), " ")
	}
	return texts, nil
}

// whisperCLIArgs runs whisper-cli as the app runs the engine: English, greedy, no
// temperature fallback, no text carried from one window into the next, the same threads.
func whisperCLIArgs(model string, threads int, more ...string) []string {
	return append([]string{"-m", model, "-t", strconv.Itoa(threads), "-l", "en", "-bs", "1", "-bo", "1", "-nf", "-mc", "0"}, more...)
}

func printWords(w io.Writer, s WordsSummary) {
	spoken := "spoken by espeak-ng as in training"
	if s.LeadMS > 0 {
		spoken += fmt.Sprintf(", trimmed, after %.0f ms of quiet", s.LeadMS)
	}
	fmt.Fprintf(w, "Held-out sentences: %d, %s; WER in %%\n", s.Sentences, spoken)
	fmt.Fprintln(w, "model    decoder layers  words  app WER  app WER, 30 s window  whisper-cli WER  app≠cli  decode ms/token  encode ms/take")
	for _, r := range s.Results {
		fmt.Fprintf(w, "%-8s %14d  %5d  %7.2f  %20.2f  %15.2f  %7d  %15.2f  %14.1f\n", r.Model, r.TextLayers, r.Words,
			r.AppWER, r.AppFullWER, r.CLIWER, r.Mismatches, r.DecodeMS, r.EncodeMS)
	}
	for _, r := range s.Results {
		if r.FirstMistake != "" {
			fmt.Fprintf(w, "%s, first mistake: %s\n", r.Model, r.FirstMistake)
		}
	}
	if len(s.Results) == 2 {
		t, st := s.Results[0], s.Results[1]
		speedup := 0.0
		if st.DecodeMS > 0 {
			speedup = t.DecodeMS / st.DecodeMS
		}
		fmt.Fprintf(w, "SUMMARY words teacher_wer=%.2f student_wer=%.2f student_minus_teacher=%.2f trim_cost=%.2f cli_minus_app=%.2f student_decode_speedup=%.2f\n",
			t.AppWER, st.AppWER, st.AppWER-t.AppWER, t.AppWER-t.AppFullWER, t.CLIWER-t.AppFullWER, speedup)
	}
}
