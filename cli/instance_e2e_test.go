package cli

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

// One instance per user session. With dictate listen running (as the systemd user unit
// starts it), a second listen and the window (as launch at login starts it) each say so
// and exit with ExitAlreadyRunning, which the unit counts as success, so neither it nor
// a restart policy starts another.
func TestE2ESecondInstanceSaysSoAndExits(t *testing.T) {
	testenv.X(t)
	testenv.PulseAudio(t)
	dir := t.TempDir()
	bin := testenv.Build(t, ".")
	model := testenv.Model(t, "micro")
	first := testenv.Start(t, bin, "listen", "--model", model, "--hotkey", "F9", "--sounds=false",
		"--history", filepath.Join(dir, "h.jsonl"), "--recordings", "")
	first.WaitLine(t, "ready:", 20*time.Second)
	for _, args := range [][]string{
		{"listen", "--model", model, "--hotkey", "F10", "--recordings", ""},
		{"gui", "--model", model, "--hotkey", "F10", "--recordings", ""},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != ExitAlreadyRunning || !strings.Contains(string(out), "already running") {
			t.Errorf("a second %s: %v\n%s", args[0], err, out)
		}
	}
	if out, err := exec.Command(bin, "ctl", "status").CombinedOutput(); err != nil {
		t.Errorf("the first instance no longer answers: %v %s", err, out)
	}

	// The unit runs listen, and exiting because another instance runs is no failure.
	unit := readUnit(t, filepath.Join("..", "assets", "dictate.service"))
	if unit["ExecStart"] != "/usr/bin/dictate listen" || unit["SuccessExitStatus"] != strconv.Itoa(ExitAlreadyRunning) {
		t.Errorf("unit: ExecStart %q, SuccessExitStatus %q", unit["ExecStart"], unit["SuccessExitStatus"])
	}
}

// readUnit reads a systemd unit's Key=Value lines (the last of a key wins).
func readUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			kv[k] = v
		}
	}
	return kv
}
