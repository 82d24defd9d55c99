package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

func TestCLIModelsDownloadThenTranscribe(t *testing.T) {
	dir := testenv.ModelCatalog(t, false)
	// Nothing installed: a clear way forward, not a crash.
	code, _, stderr := runCLI(t, "transcribe", testenv.SpeechSample(t))
	if code != ExitUsage || !strings.Contains(stderr, "dictate models download distil-small.en") {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "models", "download", "micro-test")
	if code != ExitOK || !strings.Contains(stdout, "verified by sha256") || !strings.Contains(stdout, "now the default") {
		t.Fatalf("download: exit %d: %s %s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "models", "list", "--json")
	var list struct {
		Dir       string
		Installed []struct {
			Name     string
			Verified string
			Default  bool
		}
		Catalog []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil || code != ExitOK {
		t.Fatalf("list: %v %s", err, stdout)
	}
	if len(list.Installed) != 1 || !list.Installed[0].Default || list.Installed[0].Verified != "sha256" || list.Dir != filepath.Join(dir, "models") {
		t.Fatalf("installed %+v", list)
	}
	// The default model is used when none is named, and by name.
	for _, args := range [][]string{{}, {"--model", "micro-test"}} {
		code, stdout, stderr = runCLI(t, append([]string{"transcribe", "--quiet", "--max-tokens", "4", testenv.SpeechSample(t)}, args...)...)
		if code != ExitOK || strings.TrimSpace(stdout) == "" {
			t.Fatalf("transcribe %v: exit %d: %s", args, code, stderr)
		}
	}
	// On-device quantisation makes a second installed model that transcribes.
	code, stdout, stderr = runCLI(t, "models", "quantize", "micro-test", "--type", "q8_0")
	if code != ExitOK || !strings.Contains(stdout, "installed micro-test-q8_0") || !strings.Contains(stdout, "q8_0") {
		t.Fatalf("quantize: exit %d: %s %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "transcribe", "--quiet", "--max-tokens", "4", "--model", "micro-test-q8_0", testenv.SpeechSample(t))
	if code != ExitOK || strings.TrimSpace(stdout) == "" {
		t.Fatalf("transcribe with the q8_0 copy: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "models", "quantize", "micro-test", "--type", "q8_0"); code == ExitOK || !strings.Contains(stderr, "already installed") {
		t.Fatalf("second quantize: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "models", "quantize", "micro-test", "--type", "q3"); code != ExitUsage {
		t.Fatalf("bad type: exit %d %s", code, stderr)
	}
	if code, _, _ := runCLI(t, "models", "remove", "micro-test-q8_0"); code != ExitOK {
		t.Fatal("remove failed")
	}
	if code, _, _ := runCLI(t, "models", "remove", "micro-test"); code != ExitOK {
		t.Fatal("remove failed")
	}
	if code, _, stderr := runCLI(t, "transcribe", "--model", "micro-test", testenv.SpeechSample(t)); code != ExitBadInput || !strings.Contains(stderr, "dictate models download micro-test") {
		t.Fatalf("after remove: exit %d: %s", code, stderr)
	}
}

func TestCLIModelsRefusesCorruptDownload(t *testing.T) {
	dir := testenv.ModelCatalog(t, true)
	code, _, stderr := runCLI(t, "models", "download", "micro-test")
	if code != ExitBadInput || !strings.Contains(stderr, "SHA-256") || !strings.Contains(stderr, "deleted") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "models", "*"))
	if len(files) != 0 {
		t.Fatalf("left behind: %v", files)
	}
}

func TestCLIModelsErrors(t *testing.T) {
	testenv.ModelCatalog(t, false)
	bad := filepath.Join(t.TempDir(), "catalog.json")
	os.WriteFile(bad, []byte(`{"oops":1}`), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"models", "download", "no-such-model"}, ExitFailure, "unknown model"},
		{[]string{"models", "default", "micro-test"}, ExitBadInput, "not installed"},
		{[]string{"models", "import", "/nonexistent.bin"}, ExitBadInput, "no such file"},
		{[]string{"models", "frobnicate"}, ExitUsage, "unknown models command"},
		{[]string{"models", "download"}, ExitUsage, "needs one argument"},
		{[]string{"models", "list", "--catalog", bad}, ExitUsage, "not a JSON list"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d (want %d): %s", c.args, code, c.code, stderr)
		}
	}
}

// Without a network the download says why, and what to do, also while it retries (for
// half a minute: it runs beside the other tests).
func TestCLIDownloadOfflineSaysWhy(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	dir := t.TempDir()
	catalog := filepath.Join(dir, "catalog.json")
	os.WriteFile(catalog, []byte(`[{"name":"micro-test","url":"`+url+`/m.bin","size":1000,"sha256":"`+strings.Repeat("0", 64)+`","arch":"micro","english_only":true}]`), 0o644)
	t.Setenv("DICTATE_CATALOG", catalog)
	t.Setenv("DICTATE_MODELS_DIR", filepath.Join(dir, "models"))
	start := time.Now()
	code, _, stderr := runCLI(t, "models", "download", "micro-test")
	if code != ExitFailure || !strings.Contains(stderr, "no network connection to 127.0.0.1") || !strings.Contains(stderr, "HTTPS_PROXY") ||
		!strings.Contains(stderr, "DICTATE_MODEL_MIRROR") || !strings.Contains(stderr, "trying again in") {
		t.Fatalf("exit %d after %v:\n%s", code, time.Since(start), stderr)
	}
}
