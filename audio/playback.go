package audio

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Cue is a short sound held in memory, ready to play.
type Cue struct {
	Samples []float32 // mono
	Rate    int
}

// LoadCue decodes a WAV file (as embedded in assets/) into a mono cue.
func LoadCue(wav []byte) (Cue, error) {
	src, err := newWAVSource(bytes.NewReader(wav), io.NopCloser(nil))
	if err != nil {
		return Cue{}, err
	}
	f := src.Format()
	var interleaved []float32
	buf := make([]float32, 4096)
	for {
		n, err := src.Read(buf)
		interleaved = append(interleaved, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Cue{}, err
		}
	}
	cue := Cue{Rate: f.SampleRate, Samples: make([]float32, len(interleaved)/f.Channels)}
	for i := range cue.Samples {
		var sum float32
		for c := range f.Channels {
			sum += interleaved[i*f.Channels+c]
		}
		cue.Samples[i] = sum / float32(f.Channels)
	}
	return cue, nil
}

// Player plays cues on the default output without ever blocking its caller: each plays on
// its own goroutine, and a cue asked for while another is still playing is skipped (two
// cues on top of each other say nothing).
type Player struct {
	busy    atomic.Bool
	wg      sync.WaitGroup
	OnError func(error) // optional; called from the playing goroutine
}

// Play starts c and returns at once; false if another cue was still playing.
func (p *Player) Play(c Cue) bool {
	if len(c.Samples) == 0 || !p.busy.CompareAndSwap(false, true) {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.busy.Store(false)
		if err := PlayBlocking(c); err != nil && p.OnError != nil {
			p.OnError(err)
		}
	}()
	return true
}

// Wait returns when no cue is playing (on shutdown).
func (p *Player) Wait() { p.wg.Wait() }

// PlayBlocking plays c on the default output device and returns when it has been played.
func PlayBlocking(c Cue) error {
	// The callback runs on PortAudio's thread: it only copies and never blocks.
	var pos atomic.Int64
	played := make(chan struct{})
	var once sync.Once
	stream, err := openOutput(c.Rate, func(out []float32) {
		p := int(pos.Load())
		n := copy(out, c.Samples[min(p, len(c.Samples)):])
		clear(out[n:])
		pos.Store(int64(p + n))
		if p+n >= len(c.Samples) {
			once.Do(func() { close(played) })
		}
	})
	if err != nil {
		return err
	}
	defer stream.Close()
	if err := stream.Start(); err != nil {
		return err
	}
	length := time.Duration(len(c.Samples)) * time.Second / time.Duration(c.Rate)
	select {
	case <-played:
	case <-time.After(length + 2*time.Second): // a stalled device must not hang the player
	}
	// Stop waits for the buffers already queued, so the end of the cue is heard.
	return stream.Stop()
}
