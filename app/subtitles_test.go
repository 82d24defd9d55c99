package app

import (
	"bytes"
	"testing"
	"time"

	"github.com/dictate-app/dictate/engine"
)

func TestCueTime(t *testing.T) {
	cases := []struct {
		d    time.Duration
		sep  string
		want string
	}{
		{0, ",", "00:00:00,000"},
		{1500 * time.Millisecond, ",", "00:00:01,500"},
		{time.Hour + 2*time.Minute + 3*time.Second + 4*time.Millisecond, ".", "01:02:03.004"},
		{100*time.Hour + 999*time.Millisecond, ".", "100:00:00.999"},
	}
	for _, c := range cases {
		if got := cueTime(c.d, c.sep); got != c.want {
			t.Errorf("%v: %q, want %q", c.d, got, c.want)
		}
	}
}

func TestWriteTranscriptFormats(t *testing.T) {
	tr := Transcript{Segments: []engine.Segment{
		{Start: 0, End: 2 * time.Second, Text: "Hello there."},
		{Start: 2 * time.Second, End: 3500 * time.Millisecond, Text: "a --> b\n\nc"},
	}}
	cases := map[string]string{
		"txt": "Hello there. a --> b\n\nc\n",
		"srt": "1\n00:00:00,000 --> 00:00:02,000\nHello there.\n\n2\n00:00:02,000 --> 00:00:03,500\na -> b\nc\n\n",
		"vtt": "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello there.\n\n00:00:02.000 --> 00:00:03.500\na -> b\nc\n\n",
	}
	for format, want := range cases {
		var b bytes.Buffer
		if err := WriteTranscript(&b, format, tr); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%s:\n%q\nwant\n%q", format, b.String(), want)
		}
	}
	if err := WriteTranscript(&bytes.Buffer{}, "docx", tr); err == nil {
		t.Error("unknown format accepted")
	}
}
