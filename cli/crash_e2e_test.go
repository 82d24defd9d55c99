package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

// A crash of the real binary (SIGQUIT makes the Go runtime die with its stack dump, as an
// unrecovered panic would) leaves a report on disk, and the next start names it.
func TestE2ECrashLeavesReport(t *testing.T) {
	testenv.X(t)
	testenv.PulseAudio(t)
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	dir := t.TempDir()
	args := []string{"listen", "--model", testenv.Model(t, "micro"), "--hotkey", "F9", "--sounds=false",
		"--history", filepath.Join(dir, "h.jsonl"), "--recordings", filepath.Join(dir, "rec")}
	first := testenv.Start(t, testenv.Build(t, "."), args...)
	first.WaitLine(t, "ready:", 20*time.Second)
	if err := first.Cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	first.Stop()
	report, err := os.ReadFile(filepath.Join(state, "dictate", "crash.log"))
	if err != nil || !strings.Contains(string(report), "goroutine ") {
		t.Fatalf("crash report (%v):\n%.300s", err, report)
	}

	second := testenv.Start(t, testenv.Build(t, "."), args...)
	line := second.WaitLine(t, "stopped unexpectedly last time", 20*time.Second)
	kept, _ := filepath.Glob(filepath.Join(state, "dictate", "crash-*.log"))
	if len(kept) != 1 || !strings.Contains(line, kept[0]) {
		t.Fatalf("notice %q, reports kept %v", line, kept)
	}
	if b, _ := os.ReadFile(kept[0]); string(b) != string(report) {
		t.Error("the kept report differs from the crash's")
	}
	second.WaitLine(t, "ready:", 20*time.Second)
}
