package app

import (
	"testing"
	"time"
)

func TestFilterHallucinations(t *testing.T) {
	spoken := SpeechEvidence{NoSpeechProb: 0.02, Voiced: 700 * time.Millisecond, PeakOverFloorDB: 40}
	cases := []struct {
		in, lang string
		ev       SpeechEvidence
		want     string
		drop     bool
	}{
		{"Hello world.", "en", spoken, "Hello world.", false},
		{"[BLANK_AUDIO]", "en", spoken, "", true},
		{"(music)", "en", spoken, "", true},
		{"♪♪", "en", spoken, "", true},
		{"Thank you for the report.", "en", spoken, "Thank you for the report.", false},
		{"[Music] Let's begin.", "en", spoken, "Let's begin.", false},
		{"", "en", spoken, "", true},
		// A stock phrase someone clearly said is a reply, not a hallucination.
		{" Thank you.", "en", spoken, "Thank you.", false},
		{"Okay.", "en", spoken, "Okay.", false},
		{"Bye!", "en", spoken, "Bye!", false},
		{"Vielen Dank.", "de", spoken, "Vielen Dank.", false},
		// The same phrases from audio that shows no speech are dropped.
		{" Thank you.", "en", SpeechEvidence{NoSpeechProb: 0.45, Voiced: 700 * time.Millisecond, PeakOverFloorDB: 40}, "", true},
		{"Thanks for watching!", "en", SpeechEvidence{NoSpeechProb: 0.02, Voiced: 200 * time.Millisecond, PeakOverFloorDB: 40}, "", true},
		{"Okay.", "en", SpeechEvidence{NoSpeechProb: 0.02, Voiced: 700 * time.Millisecond, PeakOverFloorDB: 13}, "", true},
		{"Untertitel im Auftrag des ZDF, 2017", "de", SpeechEvidence{NoSpeechProb: 0.5}, "", true},
		{"you", "de", SpeechEvidence{Voiced: 160 * time.Millisecond, PeakOverFloorDB: 20}, "", true},
	}
	for _, c := range cases {
		got, drop := FilterHallucinations(c.in, c.lang, c.ev)
		if got != c.want || drop != c.drop {
			t.Errorf("%q %+v: (%q, %v), want (%q, %v)", c.in, c.ev, got, drop, c.want, c.drop)
		}
	}
}

func TestApplyReplacements(t *testing.T) {
	rules := append([]Replacement{{From: "gonna", To: "going to"}, {From: "", To: "x"}}, DefaultReplacements...)
	cases := []struct{ in, want string }{
		{"Dear Anna, new line. How are you?", "Dear Anna,\nHow are you?"},
		{"First point. New paragraph. Second point.", "First point.\n\nSecond point."},
		{"I'm gonna go.", "I'm going to go."},
		{"The newline character", "The newline character"},
		{"New line", "\n"},
	}
	for _, c := range cases {
		if got := ApplyReplacements(c.in, rules); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestJoiner(t *testing.T) {
	t0 := time.Now()
	steps := []struct {
		after time.Duration
		in    string
		want  string
	}{
		{0, "Hello there", "Hello there"},
		{5 * time.Second, "How are you?", " how are you?"},
		{5 * time.Second, "fine, thanks.", " Fine, thanks."},
		{5 * time.Second, "I think so", " I think so"},
		{5 * time.Second, "NASA agrees", " NASA agrees"},
		{5 * time.Second, ", really.", ", really."},
		{10 * time.Minute, "New start", "New start"},
	}
	var j Joiner
	now := t0
	for _, s := range steps {
		now = now.Add(s.after)
		if got := j.Join(s.in, now); got != s.want {
			t.Errorf("%q: %q, want %q", s.in, got, s.want)
		}
	}
}
