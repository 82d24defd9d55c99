package testenv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ModelCatalog points the model manager (through the environment) at a temporary directory and a custom catalog whose
// one entry, "micro-test", is served by a local HTTP server (corrupted when asked), and
// returns the directory holding catalog.json; models go to its models/.
func ModelCatalog(t *testing.T, corrupt bool) (dir string) {
	data, err := os.ReadFile(Model(t, "micro"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	served := data
	if corrupt {
		served = bytes.Clone(data)
		served[len(served)/2] ^= 0x55
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "m.bin", time.Time{}, bytes.NewReader(served))
	}))
	t.Cleanup(srv.Close)
	dir = t.TempDir()
	catalog := filepath.Join(dir, "catalog.json")
	os.WriteFile(catalog, []byte(fmt.Sprintf(`[{"name":"micro-test","url":"%s/m.bin","size":%d,"sha256":"%s","arch":"micro","english_only":true}]`,
		srv.URL, len(data), hex.EncodeToString(sum[:]))), 0o644)
	t.Setenv("DICTATE_CATALOG", catalog)
	t.Setenv("DICTATE_MODELS_DIR", filepath.Join(dir, "models"))
	t.Setenv("DICTATE_MODEL", "")
	return dir
}
