package app

import (
	"testing"
	"time"
)

func TestFilterHallucinations(t *testing.T) {
	cases := []struct {
		in, lang, want string
		drop           bool
	}{
		{"Hello world.", "en", "Hello world.", false},
		{" Thank you.", "en", "", true},
		{"Thanks for watching!", "en", "", true},
		{"[BLANK_AUDIO]", "en", "", true},
		{"(music)", "en", "", true},
		{"♪♪", "en", "", true},
		{"Thank you for the report.", "en", "Thank you for the report.", false},
		{"[Music] Let's begin.", "en", "Let's begin.", false},
		{"Untertitel im Auftrag des ZDF, 2017", "de", "", true},
		{"you", "de", "", true},
		{"", "en", "", true},
	}
	for _, c := range cases {
		got, drop := FilterHallucinations(c.in, c.lang)
		if got != c.want || drop != c.drop {
			t.Errorf("%q: (%q, %v), want (%q, %v)", c.in, got, drop, c.want, c.drop)
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
