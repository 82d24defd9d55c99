package audio

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeStream delivers 10 ms blocks of a 440 Hz tone in real time, like a device.
type fakeStream struct {
	rate    float64
	cb      func([]float32)
	stopped chan struct{}
	wg      sync.WaitGroup
	halt    atomic.Bool // simulate an unplugged device: blocks stop coming
	quiet   atomic.Bool // the speaker is silent: blocks of zeros
	closes  *atomic.Int32
	n       int
}

func (f *fakeStream) Start() error {
	f.stopped = make(chan struct{})
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		block := int(f.rate / 100)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-f.stopped:
				return
			case <-tick.C:
			}
			if f.halt.Load() {
				continue
			}
			b := make([]float32, block)
			quiet := f.quiet.Load()
			for i := range b {
				if !quiet {
					b[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(f.n)/f.rate))
				}
				f.n++
			}
			f.cb(b)
		}
	}()
	return nil
}
func (f *fakeStream) Stop() error                 { close(f.stopped); f.wg.Wait(); return nil }
func (f *fakeStream) Abort() error                { return f.Stop() }
func (f *fakeStream) InputLatency() time.Duration { return 20 * time.Millisecond }
func (f *fakeStream) Close() error                { f.closes.Add(1); return nil }

type fakeDevice struct {
	rate    float64
	streams []*fakeStream
	closes  atomic.Int32
	down    atomic.Bool // the audio server is gone: opening fails
	starve  atomic.Bool // the audio server accepts streams but sends them nothing
	mu      sync.Mutex
}

func (d *fakeDevice) open(name string, cb func([]float32)) (inputStream, float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down.Load() {
		return nil, 0, errors.New("connection refused")
	}
	s := &fakeStream{rate: d.rate, cb: cb, closes: &d.closes}
	s.halt.Store(d.starve.Load())
	d.streams = append(d.streams, s)
	return s, d.rate, nil
}

func (d *fakeDevice) last() *fakeStream {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.streams[len(d.streams)-1]
}

func record(t *testing.T, m *Microphone, d time.Duration) TakeAudio {
	t.Helper()
	take, err := m.Start(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	return take.Stop()
}

func secs(n int) float64 { return float64(n) / TargetRate }

func TestTakeLengthIncludesTail(t *testing.T) {
	dev := &fakeDevice{rate: TargetRate}
	m, err := openMicrophone(CaptureConfig{Tail: 200 * time.Millisecond}, dev.open)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a := record(t, m, 500*time.Millisecond)
	if a.Err != nil || a.FirstSampleAt.IsZero() || a.FirstSampleAt.Before(a.StartedAt) {
		t.Fatalf("take %+v", a)
	}
	if got := secs(len(a.Samples)); got < 0.6 || got > 0.85 {
		t.Errorf("take holds %.2f s, want 0.5 s + 0.2 s tail", got)
	}
	// Not instant-start: the device is closed between takes.
	if dev.closes.Load() != 1 {
		t.Errorf("stream closed %d times", dev.closes.Load())
	}
}

// QuietTail ends the tail soon when the speaker stopped before the release, waits for a
// word spoken through the release to end, and records the whole tail while speech goes on.
func TestQuietTail(t *testing.T) {
	const tail = time.Second
	for _, tc := range []struct {
		name             string
		silentBeforeStop bool          // the speaker stopped 300 ms before the release
		speakAfterStop   time.Duration // else: how long speech goes on after the release (0: all of the tail)
		lo, hi           time.Duration // the audio recorded after Stop was called
	}{
		{"stopped before the release", true, 0, 0, 250 * time.Millisecond},
		{"a word spoken through the release", false, 300 * time.Millisecond, 300 * time.Millisecond, 800 * time.Millisecond},
		{"speaking all through the tail", false, 0, 900 * time.Millisecond, 1200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := &fakeDevice{rate: TargetRate}
			m, err := openMicrophone(CaptureConfig{Tail: tail, QuietTail: true}, dev.open)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			take, err := m.Start(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			s := dev.last()
			s.quiet.Store(true) // background before speaking
			time.Sleep(400 * time.Millisecond)
			s.quiet.Store(false)
			time.Sleep(time.Second)
			if tc.silentBeforeStop {
				s.quiet.Store(true)
				time.Sleep(300 * time.Millisecond)
			}
			take.mu.Lock()
			atStop := take.total
			take.mu.Unlock()
			if tc.speakAfterStop > 0 {
				time.AfterFunc(tc.speakAfterStop, func() { s.quiet.Store(true) })
			}
			a := take.Stop()
			after := time.Duration(int64(len(a.Samples))-atStop) * time.Second / TargetRate
			t.Logf("%v recorded after Stop", after)
			if a.Err != nil || after < tc.lo || after > tc.hi {
				t.Errorf("%v recorded after Stop (err %v), want %v..%v", after, a.Err, tc.lo, tc.hi)
			}
		})
	}
}

func TestResamplesDeviceRate(t *testing.T) {
	dev := &fakeDevice{rate: 48000}
	m, _ := openMicrophone(CaptureConfig{Tail: 50 * time.Millisecond}, dev.open)
	defer m.Close()
	a := record(t, m, 600*time.Millisecond)
	if a.Err != nil {
		t.Fatal(a.Err)
	}
	pcm := a.Samples[TargetRate/10 : len(a.Samples)-TargetRate/10] // away from filter start and ringing tail
	crossings := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i-1] < 0) != (pcm[i] < 0) {
			crossings++
		}
	}
	if f := float64(crossings) / 2 / secs(len(pcm)); math.Abs(f-440) > 5 {
		t.Errorf("tone at %.1f Hz after resampling 48 kHz → 16 kHz, want 440", f)
	}
}

func TestInstantStartKeepsPreRoll(t *testing.T) {
	dev := &fakeDevice{rate: TargetRate}
	m, err := openMicrophone(CaptureConfig{InstantStart: true, PreRoll: 250 * time.Millisecond, Tail: 10 * time.Millisecond}, dev.open)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	time.Sleep(500 * time.Millisecond) // the device runs before the key is pressed
	a := record(t, m, 300*time.Millisecond)
	if a.PreRoll < 200*time.Millisecond || a.PreRoll > 260*time.Millisecond {
		t.Errorf("pre-roll %v, want 250 ms", a.PreRoll)
	}
	if got := secs(len(a.Samples)); got < 0.5 {
		t.Errorf("take holds %.2f s, want pre-roll + 0.3 s", got)
	}
	// The stream stays open across takes, and a second take works.
	a2 := record(t, m, 100*time.Millisecond)
	if dev.closes.Load() != 0 || len(dev.streams) != 1 || len(a2.Samples) == 0 {
		t.Errorf("closes %d, streams %d, second take %d samples", dev.closes.Load(), len(dev.streams), len(a2.Samples))
	}
}

// A take that starts late after its key press (a loaded machine) still begins PreRoll
// before the press: the audio between the press and Start comes on top, up to lateStart.
func TestLateStartKeepsPreRollFromThePress(t *testing.T) {
	dev := &fakeDevice{rate: TargetRate}
	const preRoll = 250 * time.Millisecond
	m, err := openMicrophone(CaptureConfig{InstantStart: true, PreRoll: preRoll, Tail: 10 * time.Millisecond}, dev.open)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ringFull := func() bool {
		m.ringMu.Lock()
		defer m.ringMu.Unlock()
		return len(m.ring) == m.ringKeep
	}
	for _, tc := range []struct {
		late     time.Duration // from the press to Start
		min, max time.Duration // the pre-roll kept
	}{
		{0, preRoll - 15*time.Millisecond, preRoll},
		{400 * time.Millisecond, preRoll + 300*time.Millisecond, preRoll + 415*time.Millisecond},
		{3 * time.Second, preRoll + lateStart - 15*time.Millisecond, preRoll + lateStart}, // the ring's all
	} {
		if !waitUntil(5*time.Second, ringFull) {
			t.Fatal("the ring never filled")
		}
		take, err := m.Start(time.Now().Add(-tc.late))
		if err != nil {
			t.Fatal(err)
		}
		a := take.Stop()
		if a.PreRoll < tc.min || a.PreRoll > tc.max {
			t.Errorf("started %v after the press: pre-roll %v, want %v..%v", tc.late, a.PreRoll, tc.min, tc.max)
		}
	}
}

func TestUnpluggedDeviceKeepsAudio(t *testing.T) {
	dev := &fakeDevice{rate: TargetRate}
	m, _ := openMicrophone(CaptureConfig{Stall: 200 * time.Millisecond}, dev.open)
	defer m.Close()
	take, err := m.Start(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	dev.last().halt.Store(true)
	if !waitUntil(2*time.Second, func() bool { return take.Failed() != nil }) {
		t.Fatal("a silent device was not noticed")
	}
	a := take.Stop()
	if !errors.Is(a.Err, ErrDeviceStopped) || secs(len(a.Samples)) < 0.25 {
		t.Fatalf("err %v, %.2f s kept", a.Err, secs(len(a.Samples)))
	}
	// The microphone works again afterwards.
	if a2 := record(t, m, 200*time.Millisecond); a2.Err != nil || len(a2.Samples) == 0 {
		t.Fatalf("next take: %v, %d samples", a2.Err, len(a2.Samples))
	}
}

func TestLongTakeSpillsToSpool(t *testing.T) {
	dev := &fakeDevice{rate: TargetRate}
	dir := t.TempDir()
	m, _ := openMicrophone(CaptureConfig{MaxInMemory: 200 * time.Millisecond, SpoolDir: dir, Tail: 10 * time.Millisecond}, dev.open)
	defer m.Close()
	a := record(t, m, 700*time.Millisecond)
	if !a.Truncated || secs(len(a.Samples)) != 0.2 || a.Duration < 650*time.Millisecond {
		t.Fatalf("truncated %v, %.2f s in memory, duration %v", a.Truncated, secs(len(a.Samples)), a.Duration)
	}
	st, err := os.Stat(a.Path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("spool %v %v", st, err)
	}
	pcm, err := DecodeFile(context.Background(), a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(len(pcm))*time.Second/TargetRate != a.Duration {
		t.Errorf("spool holds %d samples, take %v", len(pcm), a.Duration)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "take-*.wav")); len(files) != 1 {
		t.Errorf("spool files %v", files)
	}
}

// A spool file whose writer died before closing (zero sizes in the header) still reads.
func TestUnclosedSpoolIsReadable(t *testing.T) {
	dir := t.TempDir()
	sp, err := newWAVSpool(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sp.write(make([]float32, 8000))
	sp.f.Sync()
	pcm, err := DecodeFile(context.Background(), sp.path)
	if err != nil || len(pcm) != 8000 {
		t.Fatalf("%d samples, %v", len(pcm), err)
	}
	sp.close()
}

func TestMicrophoneErrors(t *testing.T) {
	dev := &fakeDevice{rate: TargetRate}
	m, _ := openMicrophone(CaptureConfig{}, dev.open)
	take, err := m.Start(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(time.Now()); err == nil {
		t.Error("a second concurrent take was allowed")
	}
	take.Stop()
	m.Close()
	if _, err := m.Start(time.Now()); err == nil {
		t.Error("a closed microphone started a take")
	}
	failing := func(string, func([]float32)) (inputStream, float64, error) { return nil, 0, ErrNoInput }
	m2, _ := openMicrophone(CaptureConfig{}, failing)
	if _, err := m2.Start(time.Now()); !errors.Is(err, ErrNoInput) {
		t.Errorf("error %v", err)
	}
	if _, err := openMicrophone(CaptureConfig{InstantStart: true}, failing); !errors.Is(err, ErrNoInput) {
		t.Errorf("instant start: %v", err)
	}
}

// Two Stops at once (the hotkey's release and a device watchdog) and a Close racing them
// (shutdown after its timeout) end the take once: no double close, the same audio for both.
func TestConcurrentStopAndClose(t *testing.T) {
	for _, instant := range []bool{false, true} {
		dev := &fakeDevice{rate: TargetRate}
		m, err := openMicrophone(CaptureConfig{InstantStart: instant, Tail: 50 * time.Millisecond}, dev.open)
		if err != nil {
			t.Fatal(err)
		}
		take, err := m.Start(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]TakeAudio, 2)
		for i := range results {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = take.Stop() }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); m.Close() }()
		wg.Wait()
		if len(results[0].Samples) != len(results[1].Samples) || results[0].Duration != results[1].Duration {
			t.Errorf("instant %v: the two Stops returned different takes: %d and %d samples", instant, len(results[0].Samples), len(results[1].Samples))
		}
		if dev.closes.Load() != 1 {
			t.Errorf("instant %v: stream closed %d times", instant, dev.closes.Load())
		}
	}
}

// statusLog records what OnDevice was told.
type statusLog struct {
	mu  sync.Mutex
	got []DeviceStatus
}

func (l *statusLog) add(s DeviceStatus) { l.mu.Lock(); l.got = append(l.got, s); l.mu.Unlock() }
func (l *statusLog) all() []DeviceStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]DeviceStatus(nil), l.got...)
}

// instantMicrophone opens an instant-start microphone on a fake device that checks its
// stream every 100 ms and logs what it tells the user; it closes with the test.
func instantMicrophone(t *testing.T) (*fakeDevice, *statusLog, *Microphone) {
	dev, log := &fakeDevice{rate: TargetRate}, &statusLog{}
	m, err := openMicrophone(CaptureConfig{InstantStart: true, Stall: 100 * time.Millisecond, Tail: 10 * time.Millisecond, OnDevice: log.add}, dev.open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return dev, log, m
}

// An audio server that restarts between takes (the stream goes silent, opening fails for a
// while, then works) is ridden through: the stream is reopened by itself, the user is told
// it went and came back, and the next take records.
func TestInstantStartReopensAfterServerRestart(t *testing.T) {
	dev, log, m := instantMicrophone(t)
	if a := record(t, m, 100*time.Millisecond); a.Err != nil {
		t.Fatal(a.Err)
	}
	dev.down.Store(true)
	dev.last().halt.Store(true)
	if !waitUntil(5*time.Second, func() bool { s := log.all(); return len(s) == 1 && s[0].Lost }) {
		t.Fatalf("the lost stream was not reported: %+v", log.all())
	}
	dev.down.Store(false)
	if !waitUntil(5*time.Second, func() bool { return len(log.all()) == 2 }) {
		t.Fatalf("the stream did not come back: %+v", log.all())
	}
	if s := log.all(); !s[0].Lost || !errors.Is(s[0].Err, ErrDeviceStopped) || s[1].Lost {
		t.Errorf("reported %+v, want lost then back", s)
	}
	a := record(t, m, 200*time.Millisecond)
	if a.Err != nil || secs(len(a.Samples)) < 0.15 {
		t.Fatalf("take after the restart: %v, %.2f s", a.Err, secs(len(a.Samples)))
	}
	if n := len(dev.streams); n < 2 {
		t.Errorf("%d streams opened, want a new one after the restart", n)
	}
}

// An audio server that comes back but starves the streams opened on it (one still
// starting) does not make the microphone "back": a take begun then recorded nothing. It is
// back once a stream delivers.
func TestStarvedStreamIsNotBack(t *testing.T) {
	dev, log, m := instantMicrophone(t)
	dev.starve.Store(true)
	dev.last().halt.Store(true)
	if !waitUntil(5*time.Second, func() bool { s := log.all(); return len(s) == 1 && s[0].Lost }) {
		t.Fatalf("the lost stream was not reported: %+v", log.all())
	}
	opened := func() int { dev.mu.Lock(); defer dev.mu.Unlock(); return len(dev.streams) }
	// A try opens a probe, then the stream, and waits for each's first block in vain.
	if !waitUntil(3*firstBlockWait, func() bool { return opened() >= 3 && dev.closes.Load() >= 3 }) {
		t.Fatalf("no starved stream was tried and dropped: %d opened, %d closed", opened(), dev.closes.Load())
	}
	if s := log.all(); len(s) != 1 {
		t.Errorf("reported %+v while no audio came, want only the loss", s)
	}
	dev.starve.Store(false)
	if !waitUntil(4*firstBlockWait, func() bool { return len(log.all()) == 2 }) {
		t.Fatalf("the stream did not come back: %+v", log.all())
	}
	if s := log.all(); s[1].Lost {
		t.Errorf("reported %+v, want lost then back", s)
	}
	if a := record(t, m, 200*time.Millisecond); a.Err != nil || secs(len(a.Samples)) < 0.15 {
		t.Fatalf("take after the restart: %v, %.2f s", a.Err, secs(len(a.Samples)))
	}
}

// A take whose device dies keeps its audio, and the next take opens a fresh stream even in
// instant-start mode (where the stream otherwise stays open).
func TestFailedTakeReopensStream(t *testing.T) {
	dev := &fakeDevice{rate: TargetRate}
	var log statusLog
	m, err := openMicrophone(CaptureConfig{InstantStart: true, Stall: 150 * time.Millisecond, Tail: 10 * time.Millisecond, OnDevice: log.add}, dev.open)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	take, err := m.Start(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first := dev.last()
	first.halt.Store(true)
	if !waitUntil(2*time.Second, func() bool { return take.Failed() != nil }) {
		t.Fatal("a silent device was not noticed")
	}
	if a := take.Stop(); !errors.Is(a.Err, ErrDeviceStopped) {
		t.Fatalf("failed take: %v", a.Err)
	}
	a := record(t, m, 200*time.Millisecond)
	if a.Err != nil || len(a.Samples) == 0 || dev.last() == first {
		t.Fatalf("next take: %v, %d samples, new stream %v", a.Err, len(a.Samples), dev.last() != first)
	}
	if s := log.all(); len(s) != 2 || !s[0].Lost || s[1].Lost {
		t.Errorf("reported %+v, want lost then back", s)
	}
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// The device callback never waits: a pump that cannot keep up (the channel holds ~50 s)
// loses blocks, and the take counts every one it lost. The blocks queued when the tail
// ends are the take's, however far behind the pump is (under load it had kept 477 of 512).
func TestDroppedBlocksAreCounted(t *testing.T) {
	dev := &fakeDevice{rate: TargetRate}
	m, err := openMicrophone(CaptureConfig{Tail: 20 * time.Millisecond}, dev.open)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	take, err := m.Start(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dev.last().halt.Store(true) // blocks come from the test alone
	m.streamMu.Lock()
	blocks := m.blocks
	m.streamMu.Unlock()
	block := make([]float32, TargetRate/100)
	for i := range block {
		block[i] = 0.1
	}
	m.mu.Lock() // the pump stalls on its next block
	const sent = 600
	for range sent {
		m.onBlock(block, blocks)
	}
	lost := int(m.dropped.Load())
	m.mu.Unlock()
	a := take.Stop()
	if lost < sent-cap(blocks)-1 || a.DroppedBlocks != lost {
		t.Fatalf("%d of %d blocks dropped by the callback, the take reports %d", lost, sent, a.DroppedBlocks)
	}
	if kept := len(a.Samples) / len(block); kept < sent-lost-1 {
		t.Errorf("the take kept %d blocks, want the %d not dropped", kept, sent-lost)
	}
	// The next take starts from zero.
	if b := record(t, m, 50*time.Millisecond); b.DroppedBlocks != 0 {
		t.Errorf("next take: %d dropped", b.DroppedBlocks)
	}
}
