package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func loadMicro(t *testing.T) *engine.Model {
	t.Helper()
	m, err := engine.Load(testenv.Model(t, "micro"), engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func decode(t *testing.T, path string) []float32 { return decodeB(t, path) }

func decodeB(t testing.TB, path string) []float32 {
	t.Helper()
	pcm, err := audio.DecodeFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

func checkSegments(t *testing.T, res engine.Result, duration time.Duration) {
	t.Helper()
	if len(res.Segments) == 0 || strings.TrimSpace(res.Text) == "" {
		t.Fatalf("no text: %+v", res)
	}
	var prev time.Duration
	for i, s := range res.Segments {
		if s.Start < prev || s.End < s.Start || s.End > duration {
			t.Errorf("segment %d [%v, %v] out of order or past the audio's %v", i, s.Start, s.End, duration)
		}
		if s.Text == "" {
			t.Errorf("segment %d is empty", i)
		}
		prev = s.End
	}
}

func TestTranscribeRealSpeech(t *testing.T) {
	m := loadMicro(t)
	cases := map[string]string{
		"debian sample": testenv.SpeechSample(t),
		"espeak-ng":     testenv.Speak(t, t.TempDir(), "Hold the hotkey, speak, and release."),
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			pcm := decode(t, path)
			duration := time.Duration(len(pcm)) * time.Second / audio.TargetRate
			var progress []int
			var mu sync.Mutex
			opts := engine.Options{MaxTokens: 16, Progress: func(p int) { mu.Lock(); progress = append(progress, p); mu.Unlock() }}
			res, err := m.Transcribe(context.Background(), pcm, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkSegments(t, res, duration)
			if res.Language != "en" || res.Device == "" {
				t.Errorf("language %q device %q", res.Language, res.Device)
			}
			tm := res.Timings
			if tm.Encode <= 0 || tm.Tokens == 0 || tm.Total < tm.Encode || tm.Load <= 0 {
				t.Errorf("timings not measured: %+v", tm)
			}
			mu.Lock()
			for i, p := range progress {
				if p < 0 || p > 100 || (i > 0 && p < progress[i-1]) {
					t.Errorf("progress %v not rising within 0..100", progress)
					break
				}
			}
			mu.Unlock()
			// Greedy decoding of the same audio with the same file is deterministic.
			again, err := m.Transcribe(context.Background(), pcm, engine.Options{MaxTokens: 16})
			if err != nil || again.Text != res.Text {
				t.Errorf("second run differs: %q vs %q (%v)", again.Text, res.Text, err)
			}
			t.Logf("%s: %d segments, %v encode, %d tokens: %.60q", name, len(res.Segments), tm.Encode, tm.Tokens, res.Text)
		})
	}
}

func TestMaxTokensRespected(t *testing.T) {
	m := loadMicro(t)
	pcm := decode(t, testenv.SpeechSample(t)) // 53 s: two windows
	for _, limit := range []int{3, 10} {
		res, err := m.Transcribe(context.Background(), pcm, engine.Options{MaxTokens: limit})
		if err != nil {
			t.Fatal(err)
		}
		windows := 2
		// Each window samples at most limit+1 times (the last step is the one that stops it).
		if res.Timings.Tokens > windows*(limit+1) {
			t.Errorf("limit %d: %d sampling steps over %d windows", limit, res.Timings.Tokens, windows)
		}
		for _, s := range res.Segments {
			if n := len(strings.Fields(s.Text)); n > limit+1 {
				t.Errorf("limit %d: segment has %d words: %q", limit, n, s.Text)
			}
		}
	}
}

func TestCancelStopsWithinASecond(t *testing.T) {
	m := loadMicro(t)
	// Five windows of speech with no token cap: a random model decodes each to its limit.
	speech := decode(t, testenv.SpeechSample(t))
	pcm := append(append(append([]float32{}, speech...), speech...), speech...)
	var errorLog strings.Builder // written only from the jobs, read once they have returned
	engine.SetLogger(slog.New(slog.NewTextHandler(&errorLog, &slog.HandlerOptions{Level: slog.LevelError})))
	t.Cleanup(func() { engine.SetLogger(nil) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.Transcribe(ctx, pcm, engine.Options{})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		t.Logf("returned %v after cancel", time.Since(cancelled))
	case <-time.After(time.Second):
		t.Fatal("Transcribe still running 1 s after cancel")
	}
	// The model is usable afterwards.
	if _, err := m.Transcribe(context.Background(), speech[:16000*3], engine.Options{MaxTokens: 4}); err != nil {
		t.Fatal(err)
	}
	// A cancelled job is no error of the engine's: a live pass cut short by the release must
	// not put ERROR lines in the user's log.
	if errorLog.Len() > 0 {
		t.Errorf("a cancelled job logged errors:\n%s", errorLog.String())
	}
}

func TestConcurrentCallersAreSerialised(t *testing.T) {
	m := loadMicro(t)
	pcm := decode(t, testenv.SpeechSample(t))[:16000*8]
	want, err := m.Transcribe(context.Background(), pcm, engine.Options{MaxTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := m.Transcribe(context.Background(), pcm, engine.Options{MaxTokens: 8})
			if err == nil && got.Text != want.Text {
				err = errors.New("concurrent result differs: " + got.Text)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestTranscribeErrors(t *testing.T) {
	m := loadMicro(t)
	pcm := make([]float32, 16000)
	cases := []struct {
		name string
		pcm  []float32
		opts engine.Options
		want error
	}{
		{"empty audio", nil, engine.Options{}, engine.ErrEmptyAudio},
		{"german on English-only", pcm, engine.Options{Language: "de"}, engine.ErrLanguage},
		{"unknown language", pcm, engine.Options{Language: "klingon"}, engine.ErrLanguage},
		{"translate on English-only", pcm, engine.Options{Translate: true}, engine.ErrLanguage},
	}
	for _, c := range cases {
		if _, err := m.Transcribe(context.Background(), c.pcm, c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Transcribe(ctx, pcm, engine.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	// A short take (0.3 s) is padded, not rejected.
	short := decode(t, testenv.SpeechSample(t))[16000 : 16000+4800]
	if res, err := m.Transcribe(context.Background(), short, engine.Options{MaxTokens: 4}); err != nil {
		t.Errorf("short take: %v", err)
	} else {
		for _, s := range res.Segments {
			if s.End > 300*time.Millisecond {
				t.Errorf("segment ends at %v, past the 0.3 s take", s.End)
			}
		}
	}
	m2, err := engine.Load(testenv.Model(t, "micro"), engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m2.Close()
	if _, err := m2.Transcribe(context.Background(), pcm, engine.Options{}); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("closed model: %v", err)
	}
	if err := m2.Close(); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
}

func TestDevicesAndGPUFallback(t *testing.T) {
	devs := engine.Devices()
	cpu := false
	for _, d := range devs {
		cpu = cpu || d.Kind == engine.DeviceCPU
	}
	if !cpu {
		t.Fatalf("no CPU device among %v", devs)
	}
	// Asking for a GPU that is not there runs on the CPU and says so.
	m, err := engine.Load(testenv.Model(t, "micro"), engine.LoadOptions{GPU: true, GPUDevice: 7, FlashAttention: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !strings.HasPrefix(m.Device(), "CPU") || m.OnGPU() {
		t.Errorf("device %q (on GPU: %v), want the CPU", m.Device(), m.OnGPU())
	}
	// On the CPU there are no kernels to build: WarmUp returns without running the model,
	// even with options a take would refuse.
	if err := m.WarmUp(context.Background(), engine.Options{Language: "xx"}); err != nil {
		t.Errorf("WarmUp on the CPU: %v", err)
	}
	if !strings.Contains(engine.SystemInfo(), "CPU") || engine.Version() == "" {
		t.Errorf("system info %q version %q", engine.SystemInfo(), engine.Version())
	}
}

func TestTrimmedAudioCtx(t *testing.T) {
	for _, tc := range []struct {
		samples, floorMS, want int
	}{
		{5 * engine.SampleRate, 10000, 512},   // 10 s floor: 500 frames → 512
		{5 * engine.SampleRate, 1000, 256},    // 5 s: 250 → 256
		{12 * engine.SampleRate, 10000, 640},  // 12 s: 600 → 640
		{29 * engine.SampleRate, 10000, 1472}, // 1450 frames → 1472
		{60 * engine.SampleRate, 10000, 1500}, // longer than a window: all of it
		{engine.SampleRate / 10, 0, 64},       // never zero
	} {
		if got := engine.TrimmedAudioCtx(tc.samples, tc.floorMS, 1500); got != tc.want {
			t.Errorf("TrimmedAudioCtx(%d, %d) = %d, want %d", tc.samples, tc.floorMS, got, tc.want)
		}
	}
}

// A quantised copy loads, transcribes like a model, and is the expected size.
func TestQuantize(t *testing.T) {
	src := testenv.Model(t, "tiny.en")
	srcInfo, err := engine.ValidateModelFile(src)
	if err != nil {
		t.Fatal(err)
	}
	speech := decode(t, testenv.SpeechSample(t))[:3*engine.SampleRate]
	for _, to := range []engine.FileType{engine.Q8_0, engine.Q5_0} {
		t.Run(to.String(), func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "q.bin")
			var last float64
			info, err := engine.Quantize(context.Background(), src, dst, to, func(f float64) { last = f })
			if err != nil {
				t.Fatal(err)
			}
			if info.WeightType != to.String() || info.Preset != "tiny.en" || last != 1 {
				t.Fatalf("quantised file: %+v (progress %v)", info, last)
			}
			// Matrices are most of the file: q8_0 is about 53% of f16, q5_0 about 34%.
			ratio := float64(info.Size) / float64(srcInfo.Size)
			t.Logf("%s: %d → %d bytes (%.2f)", to, srcInfo.Size, info.Size, ratio)
			if ratio > 0.6 || ratio < 0.3 {
				t.Errorf("size ratio %.2f", ratio)
			}
			m, err := engine.Load(dst, engine.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			res, err := m.Transcribe(context.Background(), speech, engine.Options{MaxTokens: 4})
			if err != nil || res.Timings.Tokens == 0 {
				t.Fatalf("transcribing with the quantised model: %v %+v", err, res.Timings)
			}
		})
	}
	if _, err := engine.Quantize(context.Background(), src, filepath.Join(t.TempDir(), "x.bin"), engine.F16, nil); err == nil {
		t.Error("quantising to f16 was accepted")
	}
	q := filepath.Join(t.TempDir(), "q.bin")
	if _, err := engine.Quantize(context.Background(), src, q, engine.Q8_0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Quantize(context.Background(), q, filepath.Join(t.TempDir(), "qq.bin"), engine.Q5_0, nil); err == nil {
		t.Error("re-quantising a quantised file was accepted")
	}
}

func TestPickGPUPrefersDiscrete(t *testing.T) {
	cpu := engine.Device{Kind: engine.DeviceCPU}
	igpu := engine.Device{Kind: engine.DeviceIntegratedGPU}
	gpu := engine.Device{Kind: engine.DeviceGPU}
	blas := engine.Device{Kind: engine.DeviceAccelerator}
	for _, tc := range []struct {
		name string
		devs []engine.Device
		want int
	}{
		{"cpu only", []engine.Device{cpu, blas}, -1},
		{"integrated only", []engine.Device{cpu, igpu}, 0},
		{"discrete after integrated", []engine.Device{cpu, igpu, blas, gpu}, 1},
		{"two discrete", []engine.Device{gpu, gpu, cpu}, 0},
		{"discrete first", []engine.Device{gpu, igpu, cpu}, 0},
	} {
		if got := engine.PickGPU(tc.devs); got != tc.want {
			t.Errorf("%s: PickGPU = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// A generated model told what to say says exactly that through whisper.cpp, whatever it
// hears, with a low no-speech probability; in a multilingual architecture and after an
// initial prompt too.
func TestGeneratedModelSaysItsSentence(t *testing.T) {
	pcm := decode(t, testenv.Speak(t, t.TempDir(), "Something else entirely."))
	for _, c := range []struct {
		arch, say string
		opts      engine.Options
	}{
		{"micro", "Thank you.", engine.Options{}},
		{"micro", "Hello world, the quick brown fox.", engine.Options{InitialPrompt: "Kubernetes"}},
		{"tiny", "Okay.", engine.Options{Language: "en"}},
	} {
		p, _ := engine.PresetByName(c.arch)
		path := filepath.Join(t.TempDir(), "say.bin")
		if err := engine.GenerateModelFile(path, p, engine.GenerateOptions{Type: engine.F16, Seed: 7, Say: c.say}); err != nil {
			t.Fatal(err)
		}
		m, err := engine.Load(path, engine.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Transcribe(context.Background(), pcm, c.opts)
		m.Close()
		if err != nil || strings.TrimSpace(res.Text) != c.say || len(res.Segments) != 1 || res.Segments[0].NoSpeechProb > 0.01 {
			t.Errorf("%s told to say %q: %q, %+v, %v", c.arch, c.say, res.Text, res.Segments, err)
		}
	}
	p, _ := engine.PresetByName("micro")
	for _, bad := range []string{"you you", "Xylophonic words."} {
		if err := engine.GenerateModel(new(strings.Builder), p, engine.GenerateOptions{Type: engine.F16, Say: bad}); err == nil || !strings.Contains(err.Error(), "word") && !strings.Contains(err.Error(), "repeats") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
