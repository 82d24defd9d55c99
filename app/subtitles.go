package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/atomicfile"
)

// Transcript is one file's transcription, as written by the exporters.
type Transcript struct {
	File     string           `json:"file"`
	Model    string           `json:"model"`
	Device   string           `json:"device"`
	Language string           `json:"language"`
	Duration time.Duration    `json:"-"`
	Segments []engine.Segment `json:"-"`
}

// Text joins the segments.
func (t Transcript) Text() string {
	parts := make([]string, 0, len(t.Segments))
	for _, s := range t.Segments {
		parts = append(parts, s.Text)
	}
	return strings.Join(parts, " ")
}

// Formats the exporters know.
var Formats = []string{"txt", "srt", "vtt", "json"}

// WriteTranscript writes t in format ("txt", "srt", "vtt" or "json").
func WriteTranscript(w io.Writer, format string, t Transcript) error {
	switch format {
	case "txt":
		_, err := fmt.Fprintln(w, t.Text())
		return err
	case "srt":
		return writeCues(w, t.Segments, "", ",", true)
	case "vtt":
		return writeCues(w, t.Segments, "WEBVTT\n\n", ".", false)
	case "json":
		return writeJSON(w, t)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

func writeCues(w io.Writer, segs []engine.Segment, header, msSep string, numbered bool) error {
	var b strings.Builder
	b.WriteString(header)
	for i, s := range segs {
		if numbered {
			fmt.Fprintf(&b, "%d\n", i+1)
		}
		fmt.Fprintf(&b, "%s --> %s\n%s\n\n", cueTime(s.Start, msSep), cueTime(s.End, msSep), cueText(s.Text))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cueText keeps a cue's text from ending the cue early (a blank line) or faking a timing line.
func cueText(s string) string {
	s = strings.ReplaceAll(s, "-->", "->")
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	return strings.Join(lines, "\n")
}

func cueTime(d time.Duration, msSep string) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", ms/3600000, ms/60000%60, ms/1000%60, msSep, ms%1000)
}

type jsonSegment struct {
	Start        float64 `json:"start"`
	End          float64 `json:"end"`
	Text         string  `json:"text"`
	NoSpeechProb float32 `json:"no_speech_prob"`
}

type jsonTranscript struct {
	Transcript
	Duration float64       `json:"duration"`
	Text     string        `json:"text"`
	Segments []jsonSegment `json:"segments"`
}

func writeJSON(w io.Writer, t Transcript) error {
	out := jsonTranscript{Transcript: t, Duration: t.Duration.Seconds(), Text: t.Text(), Segments: []jsonSegment{}}
	for _, s := range t.Segments {
		out.Segments = append(out.Segments, jsonSegment{s.Start.Seconds(), s.End.Seconds(), s.Text, s.NoSpeechProb})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ExportTranscript writes t in format next to its audio file, as NAME.FORMAT, or NAME
// (2).FORMAT and so on when that exists: an earlier export, or the user's own file, is
// never overwritten. It returns the path written.
func ExportTranscript(t Transcript, format string) (string, error) {
	base := strings.TrimSuffix(t.File, filepath.Ext(t.File))
	f, err := atomicfile.Create(base+"."+format, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Abort()
	if err := WriteTranscript(f, format, t); err != nil {
		return "", err
	}
	for n := 1; n < 1000; n++ {
		path := base + "." + format
		if n > 1 {
			path = fmt.Sprintf("%s (%d).%s", base, n, format)
		}
		err := f.CommitNew(path)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s.%s and 999 numbered copies exist already", base, format)
}
