package audio

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoInput is returned when no microphone matches or none exists.
var ErrNoInput = errors.New("no audio input device")

// ErrDeviceStopped reports a microphone that stopped delivering audio mid-take (unplugged).
var ErrDeviceStopped = errors.New("the microphone stopped delivering audio")

// CaptureConfig chooses and tunes the microphone.
type CaptureConfig struct {
	Device string // input device name (or a unique part of it); "" for the default

	// Tail keeps recording this long after Stop so the last word is not cut (default 300 ms).
	Tail time.Duration
	// QuietTail ends the tail early when the speaker has already stopped: once audio that
	// arrived after Stop shows the last QuietGap at the background level (QuietFor). A
	// word still being spoken at the release gets the whole Tail.
	QuietTail bool

	// InstantStart keeps the stream open between takes and prepends PreRoll of audio from
	// before the key press, so no first word is ever lost. Off, the stream opens on each
	// press (about 5 ms), which keeps the desktop's microphone indicator off between takes;
	// but ALSA's PulseAudio plugin starts a stream opened after a pause of a second or more
	// only after ~2 s (measured), which a take would lose.
	InstantStart bool
	PreRoll      time.Duration // default 300 ms, counted back from the press (Start's at)

	// OnLevel receives the RMS (0..1) of each block while recording; it must not block.
	OnLevel func(rms float32)

	// MaxInMemory bounds the samples a take keeps in memory (default 10 minutes); a longer
	// take is still complete in its spool file.
	MaxInMemory time.Duration

	// SpoolDir, when set, receives every take as a 16 kHz WAV file as it is recorded, so no
	// recording is lost even if transcription fails or the app dies.
	SpoolDir string

	// Stall is how long without audio counts as a failed device (default 1 s).
	Stall time.Duration

	// OnDevice hears of the microphone going away and coming back (it is reopened by
	// itself); it must not block.
	OnDevice func(DeviceStatus)
}

func (c *CaptureConfig) defaults() {
	if c.Tail == 0 {
		c.Tail = 300 * time.Millisecond
	}
	if c.PreRoll == 0 {
		c.PreRoll = 300 * time.Millisecond
	}
	if c.MaxInMemory == 0 {
		c.MaxInMemory = 10 * time.Minute
	}
	if c.Stall == 0 {
		c.Stall = time.Second
	}
}

// DeviceStatus reports the microphone going away (Lost, with why) and coming back.
type DeviceStatus struct {
	Lost bool
	Err  error
}

// Microphone records takes. A stream whose device stops delivering (an audio server that
// restarted, a USB microphone pulled) is closed and opened again, with the devices
// re-scanned: before the next take, and in instant-start mode also while waiting.
type Microphone struct {
	cfg  CaptureConfig
	open streamOpener

	// streamMu serialises opening and closing the stream and starting takes; it is taken
	// before mu. The stream's fields change only under both.
	streamMu sync.Mutex
	stream   inputStream // nil while closed
	rate     float64
	latency  time.Duration // the stream's input latency
	blocks   chan []float32
	flushed  chan struct{} // the pump's answer to finish's mark
	pumpEnd  chan struct{}
	failed   bool // the last stream stopped delivering: re-scan before opening again
	lost     bool // the user was told the microphone is gone (and is told it is back)

	mu         sync.Mutex
	take       *Take
	closed     bool
	warm       chan struct{} // closed once the device has run once (nil: no warm-up)
	quit       chan struct{} // closed by Close: ends the supervisor
	supervised sync.WaitGroup

	lastBlock  atomic.Int64  // UnixNano of the newest block
	dropped    atomic.Int64  // blocks the pump had no room for
	firstBlock chan struct{} // closed once the open stream has delivered a pre-roll's worth
	firstOnce  sync.Once
	delivering chan struct{} // closed once the open stream has delivered a block (m.streamMu)
	received   atomic.Int64

	// Between takes the stream's callback keeps the pre-roll itself: handing every block to
	// a goroutine woke Go's scheduler ten times a second, which cost a waiting app more CPU
	// than PortAudio did (1.05 % against 0.35 % of a core, measured). Blocks go to the pump
	// only while recording.
	ringMu    sync.Mutex
	ring      []float32 // the last PreRoll+lateStart of audio
	ringKeep  int
	ringEnd   int64 // UnixNano when the ring's newest block arrived
	preRoll   int   // PreRoll in device samples
	recording bool
}

// lateStart is how late a take may start after its key press and still keep PreRoll of
// audio from before the press: a loaded machine (a build, a CI run) can take hundreds of
// milliseconds from the key event to Start, and a ring of PreRoll alone then began after
// the first word did.
const lateStart = time.Second

// OpenMicrophone initialises PortAudio and checks the device now (host APIs probe their
// devices for up to seconds on the first call, which must not delay the first take); in
// instant-start mode the stream opens now too.
func OpenMicrophone(cfg CaptureConfig) (*Microphone, error) {
	if err := initPortAudio(); err != nil {
		return nil, fmt.Errorf("audio system: %w", err)
	}
	if err := checkInput(cfg.Device); err != nil {
		return nil, err
	}
	m, err := openMicrophone(cfg, openPortAudio)
	if err != nil {
		return nil, err
	}
	m.warm = make(chan struct{})
	if cfg.InstantStart {
		go func() {
			select {
			case <-m.firstBlock:
			case <-time.After(firstBlockWait):
			case <-m.quit:
			}
			close(m.warm)
		}()
	} else {
		go m.warmUp()
	}
	return m, nil
}

// Ready is closed once the microphone can start a take without delay.
func (m *Microphone) Ready() <-chan struct{} {
	if m.warm == nil {
		ready := make(chan struct{})
		close(ready)
		return ready
	}
	return m.warm
}

// warmUp runs the device once before the first take (see probe).
func (m *Microphone) warmUp() {
	defer close(m.warm)
	m.probe()
}

// probe opens the device, waits for its first block and closes it again: with ALSA's
// PulseAudio plugin the first stream of a process (or the first after the server
// restarted) delivers its first block only after ~2 s and then starves (measured), while a
// stream opened right after it starts in ~12 ms.
func (m *Microphone) probe() {
	got := make(chan struct{}, 1)
	s, _, err := m.open(m.cfg.Device, func([]float32) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return
	}
	if s.Start() == nil {
		m.awaitFirstBlock(got)
		s.Stop()
	}
	s.Close()
}

// awaitFirstBlock waits up to firstBlockWait for a stream's first block (first is sent on
// or closed when it comes), and reports whether it came; closing the microphone ends the
// wait as if it had.
func (m *Microphone) awaitFirstBlock(first <-chan struct{}) bool {
	select {
	case <-first:
		return true
	case <-time.After(firstBlockWait):
		return false
	case <-m.quit:
		return true
	}
}

func openMicrophone(cfg CaptureConfig, open streamOpener) (*Microphone, error) {
	cfg.defaults()
	m := &Microphone{cfg: cfg, open: open, firstBlock: make(chan struct{}), quit: make(chan struct{})}
	if cfg.InstantStart {
		m.streamMu.Lock()
		err := m.openStream()
		m.streamMu.Unlock()
		if err != nil {
			return nil, err
		}
		m.supervised.Add(1)
		go m.supervise()
	}
	return m, nil
}

// openStream starts the device and the goroutine that drains its blocks (m.streamMu held).
func (m *Microphone) openStream() error {
	if m.failed {
		rescanDevices() // an audio server that restarted can list its devices anew
	}
	blocks := make(chan []float32, 512) // ~50 s of 100 ms blocks of slack
	delivering, once := make(chan struct{}), &sync.Once{}
	s, rate, err := m.open(m.cfg.Device, func(in []float32) {
		once.Do(func() { close(delivering) })
		m.onBlock(in, blocks)
	})
	if err != nil {
		return err
	}
	m.ringMu.Lock()
	m.preRoll = int(m.cfg.PreRoll.Seconds() * rate)
	m.ring, m.ringKeep, m.recording = m.ring[:0], int((m.cfg.PreRoll+lateStart).Seconds()*rate), false
	m.ringMu.Unlock()
	m.received.Store(0)
	m.lastBlock.Store(time.Now().UnixNano())
	if err := s.Start(); err != nil {
		s.Close()
		return err
	}
	latency := s.InputLatency()
	pumpEnd := make(chan struct{})
	m.mu.Lock()
	flushed := make(chan struct{})
	m.stream, m.rate, m.blocks, m.flushed, m.latency, m.pumpEnd, m.failed = s, rate, blocks, flushed, latency, pumpEnd, false
	m.delivering = delivering
	m.mu.Unlock()
	go m.pump(blocks, flushed, pumpEnd)
	return nil
}

// closeStream stops the device and waits for the pump (m.streamMu held); a no-op when
// closed. A stream whose device failed is aborted: stopping would wait for it.
func (m *Microphone) closeStream() {
	if m.stream == nil {
		return
	}
	if m.failed {
		m.stream.Abort()
	} else {
		m.stream.Stop()
	}
	m.stream.Close()
	close(m.blocks) // the callback no longer runs: nothing sends on it any more
	<-m.pumpEnd
	m.mu.Lock()
	m.stream = nil
	m.mu.Unlock()
}

// stalled reports an open stream that has delivered nothing for the given time (m.streamMu
// held). A new stream gets firstBlockWait for its first block: through ALSA's PulseAudio
// plugin the first stream of a process takes ~2 s to start.
func (m *Microphone) stalled(after time.Duration) bool {
	if m.received.Load() == 0 {
		after = max(after, firstBlockWait)
	}
	return m.stream != nil && time.Since(time.Unix(0, m.lastBlock.Load())) > after
}

const firstBlockWait = 3 * time.Second

// staleAtStart is how long a stream may have been silent when a take starts: blocks come
// every 100 ms, so one that sent none for four of them has lost its device (an audio server
// killed right after the last take), and the take would record nothing.
func (m *Microphone) staleAtStart() time.Duration { return min(m.cfg.Stall, 400*time.Millisecond) }

// reopen replaces a stream that stopped delivering, or opens one that failed to open
// (m.streamMu held), telling cfg.OnDevice when the microphone goes away and comes back.
func (m *Microphone) reopen(why error) error {
	if m.stream != nil {
		m.failed = true
		m.closeStream()
	}
	if !m.lost {
		m.lost = true
		m.report(DeviceStatus{Lost: true, Err: why})
	}
	m.probe() // a restarted server starves the first stream opened on it
	if err := m.openStream(); err != nil {
		m.failed = true
		return err
	}
	// The microphone is back once audio flows: a server still starting can starve the
	// stream too, and a take begun on it would record nothing (seen under load in
	// TestE2EAudioServerRestart). Such a stream is dropped and tried again later.
	if !m.awaitFirstBlock(m.delivering) {
		m.failed = true
		m.closeStream()
		return why
	}
	m.lost = false
	m.report(DeviceStatus{})
	return nil
}

func (m *Microphone) report(s DeviceStatus) {
	if m.cfg.OnDevice != nil {
		m.cfg.OnDevice(s)
	}
}

// supervise keeps an instant-start stream alive between takes: one that stops delivering
// is opened again (retried every cfg.Stall until the device is back). A take in progress
// is left alone; it ends with ErrDeviceStopped and the next Start reopens.
func (m *Microphone) supervise() {
	defer m.supervised.Done()
	tick := time.NewTicker(m.cfg.Stall)
	defer tick.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-tick.C:
		}
		m.streamMu.Lock()
		m.mu.Lock()
		idle := m.take == nil && !m.closed
		m.mu.Unlock()
		if idle && (m.stream == nil || m.stalled(m.cfg.Stall)) {
			m.reopen(ErrDeviceStopped)
		}
		m.streamMu.Unlock()
	}
}

// onBlock runs on PortAudio's thread: it keeps the pre-roll between takes, or copies the
// block to the pump while recording; it never waits on anything but the short ring lock.
func (m *Microphone) onBlock(in []float32, blocks chan []float32) {
	now := time.Now().UnixNano()
	m.lastBlock.Store(now)
	if len(in) == 0 {
		return // nil on the channel is finish's mark
	}
	received := m.received.Add(int64(len(in)))
	m.ringMu.Lock()
	if !m.recording {
		m.keepPreRoll(in, now)
		keep := m.preRoll
		m.ringMu.Unlock()
		m.prime(received, keep)
		return
	}
	m.ringMu.Unlock()
	select {
	case blocks <- append([]float32(nil), in...):
	default:
		// The callback must never wait; a pump this far behind (the channel holds ~50 s)
		// loses the block, and the take reports it.
		m.dropped.Add(1)
	}
}

// keepPreRoll appends a block that arrived at (UnixNano) to the ring, keeping its last
// ringKeep samples (m.ringMu held).
func (m *Microphone) keepPreRoll(b []float32, at int64) {
	m.ring, m.ringEnd = append(m.ring, b...), at
	if len(m.ring) > m.ringKeep {
		m.ring = append(m.ring[:0], m.ring[len(m.ring)-m.ringKeep:]...)
	}
}

// prime makes the microphone ready once a full pre-roll has arrived: a stream's first
// blocks can be silence while the audio server starts it (with 100 ms blocks, a take
// started on the first block lost its first 100 ms; measured by TestE2ESignalCapture).
func (m *Microphone) prime(received int64, keep int) {
	if received >= int64(keep) {
		m.firstOnce.Do(func() { close(m.firstBlock) })
	}
}

// pump moves blocks to the current take. The first block after a take has ended goes back
// to the ring, and from then on the callback keeps the pre-roll again. A nil block is
// finish's mark: every block queued before it has reached the take.
func (m *Microphone) pump(blocks chan []float32, flushed, end chan struct{}) {
	defer close(end)
	for b := range blocks {
		if b == nil {
			flushed <- struct{}{}
			continue
		}
		m.mu.Lock()
		if t := m.take; t != nil {
			t.add(b)
		} else {
			m.ringMu.Lock()
			m.keepPreRoll(b, time.Now().UnixNano())
			m.recording = false
			m.ringMu.Unlock()
		}
		m.mu.Unlock()
	}
}

// Start begins a take for a press at the time at (the key event's; the zero time is now).
// With InstantStart the take begins PreRoll before at, however late Start runs after it
// (up to lateStart). Only one take records at a time. A stream that stopped delivering
// since the last take (or failed in it) is opened again first.
func (m *Microphone) Start(at time.Time) (*Take, error) {
	if err := m.usable(); err != nil {
		return nil, err
	}
	if m.warm != nil {
		<-m.warm
	}
	started := time.Now()
	m.streamMu.Lock()
	defer m.streamMu.Unlock()
	if err := m.usable(); err != nil {
		return nil, err
	}
	switch {
	case m.stalled(m.staleAtStart()) || (m.stream == nil && m.failed):
		if err := m.reopen(ErrDeviceStopped); err != nil {
			return nil, fmt.Errorf("%w; reconnecting", err)
		}
	case m.stream == nil:
		if err := m.openStream(); err != nil {
			return nil, err
		}
	}
	t, err := newTake(m, started)
	if err != nil {
		if !m.cfg.InstantStart {
			m.closeStream()
		}
		return nil, err
	}
	// From here the callback hands blocks to the pump, which cannot attach them anywhere
	// before m.take is set: m.mu is held across the switch, so no block is lost or reordered.
	m.mu.Lock()
	m.ringMu.Lock()
	m.recording = true
	pre := append([]float32(nil), m.ring[len(m.ring)-m.preRollSince(at):]...)
	m.ring = m.ring[:0]
	m.ringMu.Unlock()
	if len(pre) > 0 {
		t.add(pre)
		t.prerolled = time.Duration(len(pre)) * time.Second / time.Duration(m.rate)
	}
	m.take = t
	m.mu.Unlock()
	go t.watch()
	return t, nil
}

// preRollSince is how many of the ring's samples a take pressed at keeps (m.ringMu held):
// PreRoll, and the audio that arrived between the press and now on top. Block arrival
// times stand in for capture times; each block's own latency is the same for all.
func (m *Microphone) preRollSince(at time.Time) int {
	n := m.preRoll
	if !at.IsZero() {
		if late := time.Duration(m.ringEnd - at.UnixNano()); late > 0 {
			n += int(late.Seconds() * m.rate)
		}
	}
	return min(n, len(m.ring))
}

// usable refuses a take on a closed microphone or while one records.
func (m *Microphone) usable() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return errors.New("microphone is closed")
	case m.take != nil:
		return errors.New("a take is already recording")
	}
	return nil
}

// finish detaches a stopped take. The stream closes unless it stays open between takes;
// one whose device failed closes either way, to be opened afresh.
func (m *Microphone) finish(t *Take, deviceFailed bool) {
	m.streamMu.Lock()
	defer m.streamMu.Unlock()
	m.mu.Lock()
	current := m.take == t && m.stream != nil
	m.mu.Unlock()
	if current {
		// Blocks captured before the tail ended belong to the take even where the pump
		// lags behind the callback (a loaded machine: CI kept 477 of 512 queued blocks).
		m.blocks <- nil
		<-m.flushed
	}
	m.mu.Lock()
	if m.take == t {
		m.take = nil
	}
	m.mu.Unlock()
	if deviceFailed {
		m.failed = true
	}
	if !m.cfg.InstantStart || deviceFailed {
		m.closeStream()
	}
}

// Close stops the device; a take still stopping finishes with what it has.
func (m *Microphone) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.quit)
	m.mu.Unlock()
	m.supervised.Wait()
	m.streamMu.Lock()
	m.closeStream()
	m.streamMu.Unlock()
	return nil
}

// TakeAudio is a finished take.
type TakeAudio struct {
	Samples       []float32     // 16 kHz mono; complete unless Truncated
	Truncated     bool          // longer than MaxInMemory: the full take is in Path
	Path          string        // the spooled WAV ("" without SpoolDir)
	Duration      time.Duration // of the whole take
	StartedAt     time.Time     // when Start was called
	FirstSampleAt time.Time     // when the first block arrived
	PreRoll       time.Duration // audio from before Start (instant-start mode)
	DroppedBlocks int           // device blocks lost because the take fell behind
	Err           error         // a device failure mid-take; the audio so far is kept
}

// Take is one recording in progress.
type Take struct {
	mic       *Microphone
	res       *resampler
	samples   []float32
	limit     int
	total     int64
	spool     *wavSpool
	started   time.Time
	first     time.Time
	prerolled time.Duration
	dropped0  int64 // the microphone's dropped blocks when the take started
	lastBlock time.Time
	latency   time.Duration // from the microphone to a delivered block
	err       error
	stopping  chan struct{}
	stopOnce  sync.Once
	done      chan struct{}
	mu        sync.Mutex
}

func newTake(m *Microphone, started time.Time) (*Take, error) {
	t := &Take{mic: m, started: started, limit: int(m.cfg.MaxInMemory.Seconds() * TargetRate),
		stopping: make(chan struct{}), done: make(chan struct{}), lastBlock: time.Now(), latency: m.latency,
		dropped0: m.dropped.Load()}
	if m.rate != TargetRate {
		r, err := newResampler(int(m.rate), TargetRate)
		if err != nil {
			return nil, err
		}
		t.res = r
	}
	if m.cfg.SpoolDir != "" {
		sp, err := newWAVSpool(m.cfg.SpoolDir, started)
		if err != nil {
			return nil, fmt.Errorf("cannot save the recording: %w", err)
		}
		t.spool = sp
	}
	return t, nil
}

// add takes a block at the device rate (called with the microphone locked).
func (t *Take) add(block []float32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.first.IsZero() {
		t.first = now
	}
	t.lastBlock = now
	if f := t.mic.cfg.OnLevel; f != nil {
		f(rms(block))
	}
	out := block
	if t.res != nil {
		var err error
		if out, err = t.res.process(block); err != nil {
			t.err = err
			return
		}
	}
	t.append(out)
}

// append adds 16 kHz samples to the take: in memory up to its limit, and to the spool.
func (t *Take) append(out []float32) {
	t.total += int64(len(out))
	if room := t.limit - len(t.samples); room > 0 {
		t.samples = append(t.samples, out[:min(room, len(out))]...)
	}
	if t.spool != nil {
		if err := t.spool.write(out); err != nil && t.err == nil {
			t.err = fmt.Errorf("saving the recording: %w", err)
		}
	}
}

// watch notices a device that stops delivering audio and ends the take with what it has.
func (t *Take) watch() {
	tick := time.NewTicker(t.mic.cfg.Stall / 4)
	defer tick.Stop()
	for {
		select {
		case <-t.stopping:
			return
		case <-tick.C:
			t.mu.Lock()
			stalled := time.Since(t.lastBlock) > t.mic.cfg.Stall
			if stalled && t.err == nil {
				t.err = ErrDeviceStopped
			}
			t.mu.Unlock()
			if stalled {
				return
			}
		}
	}
}

// SamplesFrom copies the take's 16 kHz samples from index from on, as recorded so far
// (commit-while-speaking reads them while the take goes on). Past what a take keeps in
// memory (MaxInMemory) nothing more comes.
func (t *Take) SamplesFrom(from int) []float32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if from >= len(t.samples) {
		return nil
	}
	return append([]float32(nil), t.samples[max(0, from):]...)
}

// Recorded is how many 16 kHz samples the take holds in memory so far.
func (t *Take) Recorded() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.samples)
}

// Failed reports a device failure while recording (callers may end the take early).
func (t *Take) Failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if errors.Is(t.err, ErrDeviceStopped) {
		return t.err
	}
	return nil
}

// Stop records the tail, ends the take and returns its audio. A device failure is reported
// in TakeAudio.Err with the audio recorded until then. Calls after the first (or at the same
// time) wait for it and return the same audio.
func (t *Take) Stop() TakeAudio {
	t.stopOnce.Do(t.stop)
	<-t.done
	return t.result()
}

func (t *Take) stop() {
	deviceFailed := t.Failed() != nil
	if !deviceFailed {
		stopAt := time.Now()
		t.recordTail()
		// No block through a whole tail of 200 ms or more: the device went away at the end
		// of the take (its audio is complete). The stream is reopened for the next one.
		t.mu.Lock()
		deviceFailed = t.mic.cfg.Tail >= 200*time.Millisecond && t.lastBlock.Before(stopAt)
		t.mu.Unlock()
	}
	close(t.stopping)
	t.mic.finish(t, deviceFailed || t.Failed() != nil)
	t.mu.Lock()
	if t.res != nil {
		if tail, err := t.res.flush(); err == nil {
			t.append(tail)
		}
	}
	if t.spool != nil {
		if err := t.spool.close(); err != nil && t.err == nil {
			t.err = err
		}
	}
	t.mu.Unlock()
	close(t.done)
}

// QuietGap is how long the end of a take must be silent for QuietTail to end the tail.
const QuietGap = 200 * time.Millisecond

// recordTail waits out the tail, or with QuietTail until the speaker is found silent.
func (t *Take) recordTail() {
	tail := t.mic.cfg.Tail
	if !t.mic.cfg.QuietTail {
		time.Sleep(tail)
		return
	}
	stopAt := time.Now()
	deadline := stopAt.Add(tail)
	for {
		wait := min(20*time.Millisecond, time.Until(deadline))
		if wait <= 0 {
			return
		}
		time.Sleep(wait)
		if t.quietAfter(stopAt) {
			return
		}
	}
}

// quietAfter tells whether the speaker has been silent for QuietGap at the end of what the
// take holds, once a block arrived long enough after stopAt for the release's audio to be
// in: the input latency, at most 100 ms. PortAudio reports its whole buffer there (200 ms
// through ALSA's PulseAudio plugin), while a block's newest audio is younger; and a word
// lasts longer than 100 ms, so one begun before the release shows in the audio by then.
// Only the last 10 s are looked at.
func (t *Take) quietAfter(stopAt time.Time) bool {
	t.mu.Lock()
	if t.lastBlock.Before(stopAt.Add(min(t.latency, 100*time.Millisecond))) || int64(len(t.samples)) < t.total {
		t.mu.Unlock()
		return false // the release's audio is still on its way, or past what is kept in memory
	}
	recent := append([]float32(nil), t.samples[max(0, len(t.samples)-10*TargetRate):]...)
	t.mu.Unlock()
	return QuietFor(recent) >= QuietGap
}

func (t *Take) result() TakeAudio {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := TakeAudio{Samples: t.samples, Truncated: int64(len(t.samples)) < t.total,
		Duration: time.Duration(t.total) * time.Second / TargetRate, StartedAt: t.started,
		FirstSampleAt: t.first, PreRoll: t.prerolled, DroppedBlocks: int(t.mic.dropped.Load() - t.dropped0), Err: t.err}
	if t.spool != nil {
		a.Path = t.spool.path
	}
	return a
}

func rms(b []float32) float32 {
	if len(b) == 0 {
		return 0
	}
	var s float64
	for _, v := range b {
		s += float64(v) * float64(v)
	}
	return float32(math.Sqrt(s / float64(len(b))))
}

// wavSpool writes a 16 kHz mono 16-bit WAV as samples arrive; the header's sizes are
// filled in on close (a reader treats the zero sizes of an unclosed file as "to the end").
type wavSpool struct {
	f     *os.File
	path  string
	bytes int64
	buf   []byte
}

func newWAVSpool(dir string, t time.Time) (*wavSpool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, t.Format("take-20060102-150405-*.wav"))
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	if err := WriteWAV(f, nil, TargetRate, 1); err != nil {
		f.Close()
		return nil, err
	}
	// Zero sizes until close.
	if _, err := f.WriteAt(make([]byte, 4), 4); err != nil {
		f.Close()
		return nil, err
	}
	return &wavSpool{f: f, path: f.Name()}, nil
}

func (w *wavSpool) write(s []float32) error {
	w.buf = w.buf[:0]
	for _, v := range s {
		x := int16(math.Round(float64(max(-1, min(1, v))) * 32767))
		w.buf = append(w.buf, byte(x), byte(x>>8))
	}
	n, err := w.f.Write(w.buf)
	w.bytes += int64(n)
	return err
}

func (w *wavSpool) close() error {
	var hdr [4]byte
	put := func(off int64, v uint32) error {
		hdr[0], hdr[1], hdr[2], hdr[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		_, err := w.f.WriteAt(hdr[:], off)
		return err
	}
	err := errors.Join(put(4, uint32(36+w.bytes)), put(40, uint32(w.bytes)))
	return errors.Join(err, w.f.Close())
}
