package testmodel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHeldOut(t *testing.T) {
	for _, c := range []struct {
		name, tsv string
		want      []Sentence
		err       string
	}{
		{"two", "the cat sat.\ten\t175\t50\nyes 7?\ten-us+f4\t150\t60\n",
			[]Sentence{{"the cat sat.", "en", 175, 50}, {"yes 7?", "en-us+f4", 150, 60}}, ""},
		{"fields", "the cat sat.\ten\t175\n", nil, "3 fields"},
		{"speed", "the cat sat.\ten\tfast\t50\n", nil, "line 1"},
		{"empty text", "\ten\t175\t50\n", nil, "line 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "heldout.tsv"), []byte(c.tsv), 0o644)
			got, err := HeldOut(dir)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one naming %q", err, c.err)
				}
				return
			}
			if err != nil || len(got) != len(c.want) {
				t.Fatalf("%+v, %v", got, err)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("sentence %d = %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

// The committed set is there and whole: the trained models' tests read it.
func TestCommittedHeldOut(t *testing.T) {
	s, err := HeldOut(Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 200 {
		t.Fatalf("%d held-out sentences, want 200", len(s))
	}
	for _, which := range []string{Teacher, Student} {
		if st, err := os.Stat(Path(Dir(), which)); err != nil || st.Size() > 20<<20 {
			t.Errorf("%s: %v (size limit 20 MiB)", which, err)
		}
	}
}

func TestTrimSilence(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float32
		want []float32
	}{
		{"both ends", []float32{0, 0.001, 0.5, 0, -0.3, 0.0005, 0}, []float32{0.5, 0, -0.3}},
		{"nothing to trim", []float32{0.1, -0.1}, []float32{0.1, -0.1}},
		{"all quiet", []float32{0, 0.001, -0.001}, nil},
		{"empty", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := TrimSilence(c.in)
			if len(got) != len(c.want) {
				t.Fatalf("%v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("%v, want %v", got, c.want)
				}
			}
		})
	}
}
