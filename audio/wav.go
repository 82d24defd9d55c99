package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/dictate-app/dictate/internal/atomicfile"
)

// WAV reading, our own: a streaming RIFF/RF64 reader for integer PCM (8, 16, 24, 32 bit) and
// IEEE float (32, 64 bit), plain or WAVE_FORMAT_EXTENSIBLE, any channel count and rate.

const (
	wavFormatPCM        = 1
	wavFormatFloat      = 3
	wavFormatExtensible = 0xFFFE
)

type wavSource struct {
	r        io.Reader
	closer   io.Closer
	format   Format
	float    bool
	bytesPer int // bytes per sample
	remain   int64
	buf      []byte
}

// WAVInfo is a WAV file's header.
type WAVInfo struct {
	Format
	BitsPerSample int
	Float         bool
}

// ParseWAVHeader reads the header chunks up to the start of the sample data.
func ParseWAVHeader(r io.Reader) (WAVInfo, int64, error) {
	var info WAVInfo
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil {
		return info, 0, errors.New("file too short for a WAV header")
	}
	if (string(riff[:4]) != "RIFF" && string(riff[:4]) != "RF64") || string(riff[8:12]) != "WAVE" {
		return info, 0, errors.New("not a RIFF/WAVE file")
	}
	rf64 := string(riff[:4]) == "RF64"
	var ds64Data int64 = -1
	haveFmt := false
	var format uint16
	var blockAlign int
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if !haveFmt {
				return info, 0, errors.New("no fmt chunk")
			}
			return info, 0, errors.New("no data chunk")
		}
		id := string(hdr[:4])
		size := int64(binary.LittleEndian.Uint32(hdr[4:]))
		switch id {
		case "ds64":
			if size < 28 || size > 1<<16 {
				return info, 0, fmt.Errorf("bad ds64 chunk of %d bytes", size)
			}
			b := make([]byte, size+size&1)
			if _, err := io.ReadFull(r, b); err != nil {
				return info, 0, errors.New("truncated ds64 chunk")
			}
			ds64Data = int64(binary.LittleEndian.Uint64(b[8:16]))
		case "fmt ":
			if size < 16 || size > 1<<16 {
				return info, 0, fmt.Errorf("bad fmt chunk of %d bytes", size)
			}
			b := make([]byte, size+size&1)
			if _, err := io.ReadFull(r, b); err != nil {
				return info, 0, errors.New("truncated fmt chunk")
			}
			format = binary.LittleEndian.Uint16(b[0:])
			info.Channels = int(binary.LittleEndian.Uint16(b[2:]))
			info.SampleRate = int(binary.LittleEndian.Uint32(b[4:]))
			blockAlign = int(binary.LittleEndian.Uint16(b[12:]))
			info.BitsPerSample = int(binary.LittleEndian.Uint16(b[14:]))
			if format == wavFormatExtensible {
				if size < 40 {
					return info, 0, errors.New("short WAVE_FORMAT_EXTENSIBLE header")
				}
				format = binary.LittleEndian.Uint16(b[24:]) // first bytes of the sub-format GUID
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return info, 0, errors.New("data chunk before fmt chunk")
			}
			switch {
			case format == wavFormatPCM && (info.BitsPerSample == 8 || info.BitsPerSample == 16 || info.BitsPerSample == 24 || info.BitsPerSample == 32):
			case format == wavFormatFloat && (info.BitsPerSample == 32 || info.BitsPerSample == 64):
				info.Float = true
			default:
				return info, 0, fmt.Errorf("%w: WAV encoding %#x with %d bits", ErrUnsupportedFormat, format, info.BitsPerSample)
			}
			if info.Channels < 1 || info.Channels > 64 {
				return info, 0, fmt.Errorf("%d channels", info.Channels)
			}
			if info.SampleRate < 1000 || info.SampleRate > 768000 {
				return info, 0, fmt.Errorf("sample rate %d Hz", info.SampleRate)
			}
			frameBytes := info.Channels * info.BitsPerSample / 8
			if blockAlign != frameBytes {
				return info, 0, fmt.Errorf("block align %d, want %d", blockAlign, frameBytes)
			}
			// Streaming writers leave the size 0 or 0xFFFFFFFF: read to the end then.
			switch {
			case rf64 && size == 0xFFFFFFFF && ds64Data >= 0:
				size = ds64Data
			case size == 0 || size == 0xFFFFFFFF:
				size = -1
			}
			info.Frames = -1
			if size >= 0 {
				info.Frames = size / int64(frameBytes)
			}
			return info, size, nil
		default:
			if _, err := io.CopyN(io.Discard, r, size+size&1); err != nil {
				return info, 0, fmt.Errorf("truncated %q chunk", id)
			}
		}
	}
}

func newWAVSource(r io.Reader, c io.Closer) (Source, error) {
	info, size, err := ParseWAVHeader(r)
	if err != nil {
		if errors.Is(err, ErrUnsupportedFormat) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &wavSource{r: r, closer: c, format: info.Format, float: info.Float,
		bytesPer: info.BitsPerSample / 8, remain: size}, nil
}

func (w *wavSource) Format() Format { return w.format }
func (w *wavSource) Close() error {
	if w.closer == nil {
		return nil
	}
	return w.closer.Close()
}

func (w *wavSource) Read(dst []float32) (int, error) {
	frame := w.bytesPer * w.format.Channels
	frames := len(dst) / w.format.Channels
	if frames == 0 {
		return 0, errors.New("buffer smaller than one frame")
	}
	want := int64(frames * frame)
	if w.remain >= 0 && want > w.remain {
		want = w.remain - w.remain%int64(frame)
	}
	if want == 0 {
		return 0, io.EOF
	}
	if cap(w.buf) < int(want) {
		w.buf = make([]byte, want)
	}
	buf := w.buf[:want]
	n, err := io.ReadFull(w.r, buf)
	n -= n % frame // a trailing partial frame is dropped
	if w.remain >= 0 {
		w.remain -= int64(n)
	}
	decodeSamples(dst, buf[:n], w.bytesPer, w.float)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		w.remain = 0 // the file ends early or is streamed: keep what is there
		if n == 0 {
			return 0, io.EOF
		}
	} else if err != nil {
		return 0, err
	}
	return n / w.bytesPer, nil
}

func decodeSamples(dst []float32, b []byte, bytesPer int, float bool) {
	// Float files can hold NaN, infinities and values far past full scale (a damaged or
	// crafted file, fuzzing found one): they become silence or full scale, never NaN in
	// the engine's input.
	switch {
	case float && bytesPer == 4:
		for i := range len(b) / 4 {
			dst[i] = finite(float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i*4:]))))
		}
	case float:
		for i := range len(b) / 8 {
			dst[i] = finite(math.Float64frombits(binary.LittleEndian.Uint64(b[i*8:])))
		}
	case bytesPer == 1:
		for i, v := range b {
			dst[i] = (float32(v) - 128) / 128
		}
	case bytesPer == 2:
		for i := range len(b) / 2 {
			dst[i] = float32(int16(binary.LittleEndian.Uint16(b[i*2:]))) / 32768
		}
	case bytesPer == 3:
		for i := range len(b) / 3 {
			v := int32(uint32(b[i*3])<<8|uint32(b[i*3+1])<<16|uint32(b[i*3+2])<<24) >> 8
			dst[i] = float32(v) / (1 << 23)
		}
	case bytesPer == 4:
		for i := range len(b) / 4 {
			dst[i] = float32(float64(int32(binary.LittleEndian.Uint32(b[i*4:]))) / (1 << 31))
		}
	}
}

// WriteWAV writes 16-bit PCM mono or interleaved samples (for recordings and fixtures).
func WriteWAV(w io.Writer, samples []float32, rate, channels int) error {
	dataBytes := len(samples) * 2
	hdr := make([]byte, 44)
	copy(hdr[0:], "RIFF")
	binary.LittleEndian.PutUint32(hdr[4:], uint32(36+dataBytes))
	copy(hdr[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(hdr[16:], 16)
	binary.LittleEndian.PutUint16(hdr[20:], wavFormatPCM)
	binary.LittleEndian.PutUint16(hdr[22:], uint16(channels))
	binary.LittleEndian.PutUint32(hdr[24:], uint32(rate))
	binary.LittleEndian.PutUint32(hdr[28:], uint32(rate*channels*2))
	binary.LittleEndian.PutUint16(hdr[32:], uint16(channels*2))
	binary.LittleEndian.PutUint16(hdr[34:], 16)
	copy(hdr[36:], "data")
	binary.LittleEndian.PutUint32(hdr[40:], uint32(dataBytes))
	body := make([]byte, dataBytes)
	for i, s := range samples {
		v := math.Round(float64(max(-1, min(1, s))) * 32767)
		binary.LittleEndian.PutUint16(body[i*2:], uint16(int16(v)))
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// WriteWAVFile writes mono samples at rate to path as 16-bit WAV, atomically.
func WriteWAVFile(path string, samples []float32, rate int) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return WriteWAV(w, samples, rate, 1) })
}

// finite clamps a float sample to [-1, 1], with NaN as 0.
func finite(v float64) float32 {
	if math.IsNaN(v) {
		return 0
	}
	return float32(max(-1, min(1, v)))
}
