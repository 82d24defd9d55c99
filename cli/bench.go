package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/adrg/xdg"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testmodel"
)

// The benchmark measures each architecture on generated weights (encoder and decoder time
// do not depend on weight values) in a child process per model, so that RSS is that model's
// alone, and the same models through Debian's whisper-bench and whisper-cli in the same run.

const (
	benchTokens     = 15                     // a 5 s take of speech is about 15 tokens
	benchDecodeRuns = 32                     // tokens decoded to time the decoder
	benchTail       = 300 * time.Millisecond // recorded after release, as in the app
	cliMaxMB        = 1000                   // larger models skip whisper-bench and whisper-cli on small CPUs
)

// BenchResult is one model's figures (ms unless named otherwise).
type BenchResult struct {
	Preset     string  `json:"preset"`
	Type       string  `json:"type"`
	FileMB     float64 `json:"file_mb"`
	Threads    int     `json:"threads"`
	Device     string  `json:"device"`
	LoadMS     float64 `json:"load_ms"`
	RSSMB      float64 `json:"rss_mb"`        // after load and a warm-up take
	Encode30MS float64 `json:"encode_30s_ms"` // full 30 s window
	Encode10MS float64 `json:"encode_10s_ms"` // audio_ctx trimmed to 10 s
	Encode5MS  float64 `json:"encode_5s_ms"`  // audio_ctx trimmed to 5 s (no floor)
	DecodeMS   float64 `json:"decode_ms_per_token"`
	// AppLatencyMS models release→text for a 5 s take of 15 tokens as the app runs it: the
	// tail, then mel, encoder (10 s floor) and 15 tokens on the loaded, warm model.
	AppLatencyMS float64 `json:"app_latency_ms"`

	// Debian's tools on the same file, audio and threads (0 when not run).
	BenchEncodeMS float64 `json:"whisper_bench_encode_ms,omitempty"`
	BenchDecodeMS float64 `json:"whisper_bench_decode_ms_per_token,omitempty"`
	CLILatencyMS  float64 `json:"whisper_cli_latency_ms,omitempty"` // tail + process, load, mel, encode, 15 tokens
	CLIWallMS     float64 `json:"whisper_cli_wall_ms,omitempty"`    // the whole run as measured (it decodes to its own cap)
	LatencyRatio  float64 `json:"latency_ratio,omitempty"`          // app ÷ whisper-cli
	Error         string  `json:"error,omitempty"`
}

// BenchSummary is the run's headline figures.
type BenchSummary struct {
	LatencyRatio  float64 `json:"latency_ratio"`   // distil-small.en f16: app ÷ whisper-cli
	DecodeSpeedup float64 `json:"decode_speedup"`  // large-v3 ÷ distil-large-v3 decode ms/token
	RSSOverheadMB float64 `json:"rss_overhead_mb"` // largest RSS − model file size
}

type benchFlags struct {
	presets, types, audio, cache, only, onlyType, onlyModel string
	threads                                                 int
	jsonOut, compare, idle, gpu                             bool
	idleFor                                                 time.Duration
}

// bench runs dictate bench.
func (c *CLI) bench(ctx context.Context, args []string) error {
	fs := c.newFlagSet("bench", "bench [--presets a,b] [--types f16,q8_0] [--threads N] [--json] | bench --words | bench --live | bench --idle [listen flags]")
	var f benchFlags
	fs.StringVar(&f.presets, "presets", "small.en,distil-small.en,large-v3,distil-large-v3", "architectures to measure")
	fs.StringVar(&f.types, "types", "f16", "weight types for every preset (f16, q8_0, q5_0, …)")
	extra := fs.String("extra", "small.en:q8_0,distil-small.en:q8_0,distil-small.en:q5_0", "more preset:type pairs")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads (0: one per physical core)")
	fs.StringVar(&f.audio, "audio", "", "speech to time (default: Debian's sample recording, else a synthetic signal)")
	fs.StringVar(&f.cache, "cache", filepath.Join(xdg.CacheHome, "dictate", "bench"), "where generated models are kept")
	fs.BoolVar(&f.jsonOut, "json", false, "print JSON instead of the table")
	fs.BoolVar(&f.gpu, "gpu", true, "use a GPU when one is present (false: the CPU alone)")
	fs.BoolVar(&f.compare, "compare", true, "also run Debian's whisper-bench and whisper-cli")
	fs.BoolVar(&f.idle, "idle", false, "measure the CPU a waiting dictate listen uses (the rest of the flags go to listen)")
	fs.DurationVar(&f.idleFor, "idle-for", 30*time.Second, "how long --idle measures")
	fs.StringVar(&f.only, "one", "", "internal: measure one preset in this process")
	fs.StringVar(&f.onlyType, "one-type", "f16", "internal: its weight type")
	fs.StringVar(&f.onlyModel, "one-model", "", "internal: its model file")
	words := fs.Bool("words", false, "score the trained test models on their held-out sentences (WER, app and whisper-cli)")
	wordsDir := fs.String("words-dir", testmodel.Dir(), "where the trained test models are")
	wordsLimit := fs.Int("words-limit", 0, "score only the first N held-out sentences (0: all)")
	wordsLead := fs.Duration("words-lead", 0, "trim espeak-ng's silence and lead each sentence by this much quiet, as dictation's pre-roll does (0: the clips as espeak-ng makes them)")
	live := fs.Bool("live", false, "release→text for 5, 30 and 120 s takes played into the default input, commit-while-speaking on and off")
	liveTakes := fs.String("live-takes", "5s,30s,120s", "--live's take lengths (the summary compares 5 s and 120 s)")
	liveModel := fs.String("live-model", "", "the model --live times (default: a generated distil-small.en q8_0 in --cache)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if f.threads <= 0 {
		f.threads = engine.DefaultThreads()
	}
	if f.idle {
		return c.benchIdle(ctx, f.idleFor, rest)
	}
	if *words {
		if *wordsLead < 0 || *wordsLead > 5*time.Second {
			return usageError{fmt.Sprintf("--words-lead %v is not from 0 to 5s", *wordsLead)}
		}
		return c.benchWords(ctx, *wordsDir, *wordsLimit, *wordsLead, f.threads, f.jsonOut)
	}
	if *live {
		model := *liveModel
		if model == "" {
			if err := os.MkdirAll(f.cache, 0o755); err != nil {
				return err
			}
			if model, err = benchModel(ctx, f.cache, "distil-small.en", "q8_0"); err != nil {
				return err
			}
		}
		var lengths []time.Duration
		for _, l := range splitComma(*liveTakes) {
			d, err := time.ParseDuration(l)
			if err != nil || d < 2*time.Second || d > 10*time.Minute {
				return fmt.Errorf("--live-takes: %q is not a length from 2s to 10m", l)
			}
			lengths = append(lengths, d)
		}
		return c.benchLive(ctx, model, *wordsDir, lengths, f.threads, f.jsonOut)
	}
	if f.only != "" {
		res := benchOne(ctx, f, f.only, f.onlyType, f.onlyModel)
		return json.NewEncoder(c.Stdout).Encode(res)
	}
	type job struct{ preset, typ string }
	var jobs []job
	for _, p := range splitComma(f.presets) {
		for _, t := range splitComma(f.types) {
			jobs = append(jobs, job{p, t})
		}
	}
	for _, e := range splitComma(*extra) {
		p, t, ok := strings.Cut(e, ":")
		if ok && strings.Contains(","+f.presets+",", ","+p+",") {
			jobs = append(jobs, job{p, t})
		}
	}
	if err := os.MkdirAll(f.cache, 0o755); err != nil {
		return err
	}
	speech, err := benchAudio(ctx, f.audio)
	if err != nil {
		return err
	}
	take5 := filepath.Join(f.cache, "take-5s.wav")
	if err := audio.WriteWAVFile(take5, speech[:5*engine.SampleRate], engine.SampleRate); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var results []BenchResult
	if !f.jsonOut {
		fmt.Fprintln(c.Stdout, machineDescription())
		fmt.Fprintln(c.Stdout, benchHeader)
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(c.Stderr, "bench: %s %s…\n", j.preset, j.typ)
		model, err := benchModel(ctx, f.cache, j.preset, j.typ)
		if err != nil {
			res := BenchResult{Preset: j.preset, Type: j.typ, Error: err.Error()}
			results = append(results, res)
			if !f.jsonOut {
				fmt.Fprintln(c.Stdout, benchRow(res))
			}
			continue
		}
		childArgs := []string{"bench", "--one", j.preset, "--one-type", j.typ, "--one-model", model, "--threads", strconv.Itoa(f.threads), "--gpu=" + strconv.FormatBool(f.gpu)}
		if f.audio != "" {
			childArgs = append(childArgs, "--audio", f.audio)
		}
		out, err := exec.CommandContext(ctx, exe, childArgs...).Output()
		var res BenchResult
		if jerr := json.Unmarshal(lastLine(out), &res); jerr != nil {
			res = BenchResult{Preset: j.preset, Type: j.typ, Error: fmt.Sprintf("measuring: %v %v", err, jerr)}
		}
		if f.compare && res.Error == "" {
			compareWithWhisperCpp(ctx, &res, model, take5, f.threads)
		}
		results = append(results, res)
		if !f.jsonOut {
			fmt.Fprintln(c.Stdout, benchRow(res))
		}
	}
	sum := summarise(results)
	if f.jsonOut {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Machine string        `json:"machine"`
			Results []BenchResult `json:"results"`
			Summary BenchSummary  `json:"summary"`
		}{machineDescription(), results, sum}); err != nil {
			return err
		}
	} else {
		printComparisons(c.Stdout, results)
	}
	fmt.Fprintf(c.Stdout, "SUMMARY latency_ratio=%.3f decode_speedup=%.2f rss_overhead_mb=%.0f\n", sum.LatencyRatio, sum.DecodeSpeedup, sum.RSSOverheadMB)
	return nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// benchModel returns the generated model file for preset and type, making it once.
func benchModel(ctx context.Context, dir, preset, typ string) (string, error) {
	p, ok := engine.PresetByName(preset)
	if !ok {
		return "", fmt.Errorf("unknown preset %q", preset)
	}
	ft, err := engine.ParseFileType(typ)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, preset+"-"+typ+".bin")
	if _, err := engine.ValidateModelFile(path); err == nil {
		return path, nil
	}
	if ft == engine.F16 || ft == engine.F32 {
		return path, engine.GenerateModelFile(path, p, engine.GenerateOptions{Type: ft, Seed: 1})
	}
	src, err := benchModel(ctx, dir, preset, "f16")
	if err != nil {
		return "", err
	}
	_, err = engine.Quantize(ctx, src, path, ft, nil)
	return path, err
}

// benchAudio is 30 s of speech: the sample recording, or a synthetic voiced signal.
func benchAudio(ctx context.Context, path string) ([]float32, error) {
	if path == "" {
		if p := "/usr/share/sounds/debian/samples/en-Wikipedia-Ignore_All_Rules.wav"; fileExists(p) {
			path = p
		}
	}
	var s []float32
	if path != "" {
		var err error
		if s, err = audio.DecodeFile(ctx, path); err != nil {
			return nil, err
		}
	}
	want := 30 * engine.SampleRate
	for len(s) < want { // loop short audio; synthesise when there is none
		if len(s) == 0 {
			s = make([]float32, want)
			for i := range s {
				t := float64(i) / engine.SampleRate
				s[i] = float32(0.2 * math.Sin(2*math.Pi*(140+40*math.Sin(2*math.Pi*3*t))*t) * (0.6 + 0.4*math.Sin(2*math.Pi*4*t)))
			}
			break
		}
		s = append(s, s...)
	}
	return s[:want], nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// benchOne measures the model file at path (made by benchModel) in this process.
func benchOne(ctx context.Context, f benchFlags, preset, typ, path string) BenchResult {
	res := BenchResult{Preset: preset, Type: typ, Threads: f.threads}
	fail := func(err error) BenchResult { res.Error = err.Error(); return res }
	if st, err := os.Stat(path); err == nil {
		res.FileMB = float64(st.Size()) / 1e6
	}
	speech, err := benchAudio(ctx, f.audio)
	if err != nil {
		return fail(err)
	}
	m, err := engine.Load(path, app.ModelLoadOptions(f.gpu))
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	res.LoadMS, res.Device = app.Millis(m.LoadTime()), m.Device()
	run := func(pcm []float32, o engine.Options) (engine.Timings, error) {
		o.Threads, o.Language = f.threads, "en"
		if m.OnGPU() {
			// A GPU backend builds kernels for each new shape on first use (as the app's
			// warm-up does for a take's shapes): time the second run.
			if _, err := m.Transcribe(ctx, pcm, o); err != nil {
				return engine.Timings{}, err
			}
		}
		r, err := m.Transcribe(ctx, pcm, o)
		return r.Timings, err
	}
	take5 := speech[:5*engine.SampleRate]
	// Warm up: the first run allocates compute buffers, which RSS should include.
	if _, err := run(take5, engine.Options{MaxTokens: 1, AudioCtx: 64}); err != nil {
		return fail(err)
	}
	res.RSSMB = float64(rssBytes()) / 1e6
	for _, e := range []struct {
		dst   *float64
		pcm   []float32
		floor int
	}{{&res.Encode30MS, speech, 0}, {&res.Encode10MS, speech[:10*engine.SampleRate], 10000}, {&res.Encode5MS, take5, 1000}} {
		t, err := run(e.pcm, engine.Options{MaxTokens: 1, AudioCtxFloorMS: e.floor})
		if err != nil {
			return fail(err)
		}
		*e.dst = app.Millis(t.Encode)
	}
	// The take as the app runs it (10 s floor), decoding a fixed number of tokens.
	t, err := run(take5, engine.Options{MaxTokens: benchDecodeRuns, AudioCtxFloorMS: 10000})
	if err != nil {
		return fail(err)
	}
	if t.Tokens == 0 {
		return fail(errors.New("the decoder produced no tokens"))
	}
	res.DecodeMS = app.Millis(t.Decode) / float64(t.Tokens)
	res.AppLatencyMS = app.Millis(benchTail) + app.Millis(t.Mel) + app.Millis(t.Encode) + benchTokens*res.DecodeMS
	if r := float64(rssBytes()) / 1e6; r > res.RSSMB {
		res.RSSMB = r
	}
	return res
}

// rssBytes is this process's resident set (Linux), or 0.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

var (
	reEncode = regexp.MustCompile(`encode time =\s*([\d.]+) ms /\s*(\d+) runs`)
	reDecode = regexp.MustCompile(`decode time =\s*([\d.]+) ms /\s*(\d+) runs`)
	reBatchd = regexp.MustCompile(`batchd time =\s*([\d.]+) ms /\s*(\d+) runs`)
	reTotal  = regexp.MustCompile(`total time =\s*([\d.]+) ms`)
)

func timing(re *regexp.Regexp, out string) (ms float64, runs int) {
	m := re.FindStringSubmatch(out)
	if m == nil {
		return 0, 0
	}
	ms, _ = strconv.ParseFloat(m[1], 64)
	if len(m) > 2 {
		runs, _ = strconv.Atoi(m[2])
	}
	return ms, runs
}

// compareWithWhisperCpp runs whisper-bench (full-window encoder, per-token decoder) and
// whisper-cli on the 5 s take with the same model and threads, greedy and without
// temperature fallback like the app. whisper-cli decodes a random-weight model up to its
// own cap, so its release→text is modelled from its own timings with 15 tokens: tail,
// process start and load, mel, encoder, 15 × its per-token time.
func compareWithWhisperCpp(ctx context.Context, res *BenchResult, model, take5 string, threads int) {
	// Both tools are too slow on the large models on a small CPU (whisper-bench also times
	// 256-token prompt batches: over ten minutes each on 2 cores; whisper-cli decodes random
	// weights to its cap): those are compared by the app's own figures only.
	if res.FileMB > cliMaxMB && runtime.NumCPU() < 8 {
		return
	}
	if bin, err := exec.LookPath("whisper-bench"); err == nil {
		out, _ := exec.CommandContext(ctx, bin, "-m", model, "-t", strconv.Itoa(threads)).CombinedOutput()
		enc, encRuns := timing(reEncode, string(out))
		dec, decRuns := timing(reDecode, string(out))
		if encRuns > 0 {
			res.BenchEncodeMS = enc / float64(encRuns)
		}
		if decRuns > 0 {
			res.BenchDecodeMS = dec / float64(decRuns)
		}
	}
	bin, err := exec.LookPath("whisper-cli")
	if err != nil {
		return
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, whisperCLIArgs(model, threads, "-f", take5, "-nt")...).CombinedOutput()
	wall := app.Millis(time.Since(start))
	if err != nil {
		res.Error = fmt.Sprintf("whisper-cli: %v", err)
		return
	}
	total, _ := timing(reTotal, string(out))
	dec, decRuns := timing(reDecode, string(out))
	batchd, batchdRuns := timing(reBatchd, string(out))
	if decRuns+batchdRuns == 0 || total == 0 {
		return
	}
	perToken := (dec + batchd) / float64(decRuns+batchdRuns)
	// Everything but decoding (process start, load, mel, encoder, prompt) as measured.
	fixed := wall - dec - batchd
	res.CLIWallMS = wall
	res.CLILatencyMS = app.Millis(benchTail) + fixed + benchTokens*perToken
	if res.CLILatencyMS > 0 {
		res.LatencyRatio = res.AppLatencyMS / res.CLILatencyMS
	}
}

func summarise(results []BenchResult) BenchSummary {
	var s BenchSummary
	find := func(preset, typ string) *BenchResult {
		for i := range results {
			if results[i].Preset == preset && results[i].Type == typ && results[i].Error == "" {
				return &results[i]
			}
		}
		return nil
	}
	if r := find("distil-small.en", "f16"); r != nil {
		s.LatencyRatio = r.LatencyRatio
	}
	if a, b := find("large-v3", "f16"), find("distil-large-v3", "f16"); a != nil && b != nil && b.DecodeMS > 0 {
		s.DecodeSpeedup = a.DecodeMS / b.DecodeMS
	}
	for _, r := range results {
		if r.Error == "" {
			s.RSSOverheadMB = max(s.RSSOverheadMB, r.RSSMB-r.FileMB)
		}
	}
	return s
}

const benchHeader = "model            type   file MB  load ms  RSS MB  enc 30s  enc 10s  enc 5s  dec ms/tok  app 5s→text  wb enc 30s  wb dec ms/tok  cli 5s→text  ratio  device"

// benchRow is one table line (printed as soon as the model is measured).
func benchRow(r BenchResult) string {
	if r.Error != "" {
		return fmt.Sprintf("%-16s %-5s  error: %s", r.Preset, r.Type, r.Error)
	}
	return fmt.Sprintf("%-16s %-5s %8.0f %8.0f %7.0f %8.0f %8.0f %7.0f %11.1f %12.0f %11s %14s %12s %6s  %s",
		r.Preset, r.Type, r.FileMB, r.LoadMS, r.RSSMB, r.Encode30MS, r.Encode10MS, r.Encode5MS, r.DecodeMS, r.AppLatencyMS,
		optional(r.BenchEncodeMS, "%.0f"), optional(r.BenchDecodeMS, "%.1f"), optional(r.CLILatencyMS, "%.0f"), optional(r.LatencyRatio, "%.3f"), r.Device)
}

// printComparisons sets each distilled model against its original, from the same run.
func printComparisons(w io.Writer, results []BenchResult) {
	byName := map[string]BenchResult{}
	for _, r := range results {
		if r.Type == "f16" && r.Error == "" {
			byName[r.Preset] = r
		}
	}
	for _, pair := range [][2]string{{"large-v3", "distil-large-v3"}, {"small.en", "distil-small.en"}} {
		a, okA := byName[pair[0]]
		b, okB := byName[pair[1]]
		if okA && okB && b.DecodeMS > 0 && b.AppLatencyMS > 0 {
			fmt.Fprintf(w, "%s vs %s: decoder %.2fx faster per token, encoder (30 s) %.2fx, 5 s take end to end %.2fx\n",
				pair[1], pair[0], a.DecodeMS/b.DecodeMS, a.Encode30MS/b.Encode30MS, a.AppLatencyMS/b.AppLatencyMS)
		}
	}
}

func optional(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// machineDescription is nproc, physical cores and the CPU model.
func machineDescription() string {
	cpu := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("machine: nproc=%d physical_cores=%d cpu=%q whisper.cpp=%s", runtime.NumCPU(), engine.DefaultThreads(), cpu, engine.Version())
}

// benchIdle starts dictate listen (with args), waits until it is ready, and measures the
// CPU time it uses while waiting for the hotkey.
func (c *CLI) benchIdle(ctx context.Context, d time.Duration, listenArgs []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{"listen"}, listenArgs...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready:") {
				ready <- nil
				for sc.Scan() {
				}
				return
			}
		}
		ready <- errors.New("dictate listen ended before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			return err
		}
	case <-time.After(60 * time.Second):
		return errors.New("dictate listen was not ready within 60 s")
	}
	time.Sleep(2 * time.Second) // let start-up settle
	before, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return err
	}
	start := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return err
	}
	pct := 100 * (after - before).Seconds() / time.Since(start).Seconds()
	fmt.Fprintf(c.Stdout, "idle: dictate listen used %v of CPU in %v waiting for the hotkey: %.2f%% of one core\n",
		(after - before).Round(time.Millisecond), time.Since(start).Round(time.Second), pct)
	fmt.Fprintf(c.Stdout, "SUMMARY idle_cpu_percent=%.3f\n", pct)
	return nil
}

// cpuTime is a process's user+system CPU time from /proc (Linux).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which is in parentheses and may hold spaces).
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}
