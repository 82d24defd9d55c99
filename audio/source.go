// Package audio owns audio input: file decoding, downmixing, resampling to 16 kHz mono,
// microphone capture and levels.
package audio

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// TargetRate is the sample rate the speech engine wants.
const TargetRate = 16000

// ErrUnsupportedFormat is returned for files no decoder (nor ffmpeg) can read.
var ErrUnsupportedFormat = errors.New("unsupported audio format")

// ErrCorrupt wraps problems inside a file of a known format.
var ErrCorrupt = errors.New("corrupt audio file")

// Format describes a decoded stream.
type Format struct {
	SampleRate int
	Channels   int
	Frames     int64 // frames (samples per channel) when known, else -1
}

// Source is a stream of decoded audio: interleaved float32 samples in [-1, 1].
type Source interface {
	Format() Format
	// Read fills dst with whole frames and returns the number of samples written.
	Read(dst []float32) (int, error)
	Close() error
}

// Open picks a decoder by the file's content (not its name): WAV, MP3, FLAC and Ogg Vorbis
// in Go; anything else through ffmpeg when it is installed, already as 16 kHz mono.
func Open(ctx context.Context, path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory", path)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(12)
	var open func(io.Reader, io.Closer) (Source, error)
	var format string
	switch {
	case len(head) == 0:
		f.Close()
		return nil, fmt.Errorf("%w: %s is empty", ErrCorrupt, path)
	case len(head) >= 12 && (string(head[:4]) == "RIFF" || string(head[:4]) == "RF64") && string(head[8:12]) == "WAVE":
		open, format = newWAVSource, "WAV"
	case bytes.HasPrefix(head, []byte("fLaC")):
		open, format = newFLACSource, "FLAC"
	case bytes.HasPrefix(head, []byte("OggS")) && isVorbis(br):
		open, format = newVorbisSource, "Ogg Vorbis"
	case bytes.HasPrefix(head, []byte("ID3")) || (len(head) >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0 && strings.EqualFold(filepath.Ext(path), ".mp3")):
		open, format = newMP3Source, "MP3"
	default:
		f.Close()
		return openFFmpeg(ctx, path)
	}
	src, err := contained(format, func() (Source, error) { return open(br, f) })
	if err != nil {
		f.Close()
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Base(path), err)
		}
		return nil, err
	}
	return guardedSource{src, format}, nil
}

// The pure-Go decoders have panicked on crafted and damaged files (fuzzers found such
// inputs upstream). A panic inside one fails that file with ErrCorrupt, never the app.

// contained runs f, turning a decoder's panic into an error.
func contained[T any](format string, f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: the %s decoder failed on this file (%v)", ErrCorrupt, format, r)
		}
	}()
	return f()
}

// guardedSource contains its decoder's panics.
type guardedSource struct {
	src    Source
	format string
}

func (g guardedSource) Format() Format {
	f, err := contained(g.format, func() (Format, error) { return g.src.Format(), nil })
	if err != nil {
		return Format{} // NewMono16k refuses a format without rate or channels
	}
	return f
}

func (g guardedSource) Read(dst []float32) (int, error) {
	return contained(g.format, func() (int, error) { return g.src.Read(dst) })
}

func (g guardedSource) Close() error {
	_, err := contained(g.format, func() (struct{}, error) { return struct{}{}, g.src.Close() })
	return err
}

// isVorbis tells Ogg Vorbis from other Ogg codecs (Opus goes to ffmpeg).
func isVorbis(br *bufio.Reader) bool {
	head, _ := br.Peek(64)
	return bytes.Contains(head, []byte("\x01vorbis"))
}

// Mono16k turns any Source into a stream of 16 kHz mono samples.
type Mono16k struct {
	src      Source
	format   Format
	res      *resampler
	inBuf    []float32
	monoBuf  []float32
	pending  []float32
	eof      bool
	consumed int64 // input frames read so far, for progress
}

// NewMono16k wraps src; it takes ownership and closes it on Close.
func NewMono16k(src Source) (*Mono16k, error) {
	f := src.Format()
	if f.SampleRate <= 0 || f.Channels <= 0 {
		return nil, fmt.Errorf("%w: %d Hz, %d channels", ErrCorrupt, f.SampleRate, f.Channels)
	}
	m := &Mono16k{src: src, format: f, inBuf: make([]float32, 8192*f.Channels)}
	if f.SampleRate != TargetRate {
		r, err := newResampler(f.SampleRate, TargetRate)
		if err != nil {
			return nil, err
		}
		m.res = r
	}
	return m, nil
}

// Format of the underlying file.
func (m *Mono16k) Format() Format { return m.format }

// Progress is the fraction of the input read, when its length is known (else -1).
func (m *Mono16k) Progress() float64 {
	if m.format.Frames <= 0 {
		return -1
	}
	return min(1, float64(m.consumed)/float64(m.format.Frames))
}

// Read fills dst with 16 kHz mono samples; io.EOF once the stream is done.
func (m *Mono16k) Read(dst []float32) (int, error) {
	for len(m.pending) == 0 {
		if m.eof {
			return 0, io.EOF
		}
		if err := m.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(dst, m.pending)
	m.pending = m.pending[n:]
	return n, nil
}

func (m *Mono16k) fill() error {
	n, err := m.src.Read(m.inBuf)
	if err != nil && err != io.EOF {
		return err
	}
	ch := m.format.Channels
	frames := n / ch
	m.consumed += int64(frames)
	m.monoBuf = downmix(m.monoBuf[:0], m.inBuf[:frames*ch], ch)
	if m.res == nil {
		m.pending = append(m.pending[:0], m.monoBuf...)
	} else {
		out, rerr := m.res.process(m.monoBuf)
		if rerr != nil {
			return rerr
		}
		if err == io.EOF {
			tail, rerr := m.res.flush()
			if rerr != nil {
				return rerr
			}
			out = append(out, tail...)
		}
		m.pending = out
	}
	if err == io.EOF {
		m.eof = true
	}
	return nil
}

// Close closes the underlying source.
func (m *Mono16k) Close() error { return m.src.Close() }

// ReadWindow reads up to len(dst) samples, stopping early only at the end of the stream.
func (m *Mono16k) ReadWindow(dst []float32) (int, error) {
	total := 0
	for total < len(dst) {
		n, err := m.Read(dst[total:])
		total += n
		if err == io.EOF {
			if total == 0 {
				return 0, io.EOF
			}
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// downmix averages interleaved channels into dst.
func downmix(dst, in []float32, channels int) []float32 {
	if channels == 1 {
		return append(dst, in...)
	}
	scale := 1 / float32(channels)
	for i := 0; i+channels <= len(in); i += channels {
		var sum float32
		for c := 0; c < channels; c++ {
			sum += in[i+c]
		}
		dst = append(dst, sum*scale)
	}
	return dst
}

// DecodeFile reads a whole file as 16 kHz mono. Use Mono16k to stream long files.
func DecodeFile(ctx context.Context, path string) ([]float32, error) {
	src, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	m, err := NewMono16k(src)
	if err != nil {
		src.Close()
		return nil, err
	}
	defer m.Close()
	var out []float32
	buf := make([]float32, 32768)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := m.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
