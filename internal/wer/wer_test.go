package wer

import (
	"slices"
	"testing"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Hello, world.", []string{"hello", "world"}},
		{"  don't STOP?  ", []string{"don't", "stop"}},
		{"a - b", []string{"a", "b"}},
		{"3 dogs!", []string{"3", "dogs"}},
		{"Six, three and 4.", []string{"6", "3", "and", "4"}}, // a digit and its name are the same speech
		{"someone sixteen", []string{"someone", "sixteen"}},
		{"", nil},
	} {
		if got := Words(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		ref, hyp string
		want     int
	}{
		{"the cat sat", "the cat sat", 0},
		{"the cat sat", "the bat sat", 1},      // substitution
		{"the cat sat", "the sat", 1},          // deletion
		{"the cat sat", "the cat sat down", 1}, // insertion
		{"the cat sat", "", 3},                 // all deleted
		{"", "noise", 1},                       // all inserted
		{"a b c d", "b c d a", 2},              // a moved: one deletion, one insertion
		{"one two three", "three two one", 2},  // reversed
	} {
		if got := Errors(Words(c.ref), Words(c.hyp)); got != c.want {
			t.Errorf("Errors(%q, %q) = %d, want %d", c.ref, c.hyp, got, c.want)
		}
	}
}

func TestTally(t *testing.T) {
	var tl Tally
	tl.Add("the cat sat", "the bat sat")
	tl.Add("a b c d e f g", "a b c d e f g")
	if tl.Errors != 1 || tl.Words != 10 || tl.Rate() != 10 {
		t.Fatalf("tally %+v rate %v, want 1 error in 10 words (10%%)", tl, tl.Rate())
	}
	if (Tally{}).Rate() != 0 {
		t.Fatal("an empty tally has a rate")
	}
}
