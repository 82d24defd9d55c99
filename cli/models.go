package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dictate-app/dictate/app/models"
	"github.com/dictate-app/dictate/engine"
)

// modelManager opens the models directory with the built-in catalog plus $DICTATE_CATALOG.
func (c *CLI) modelManager(catalog string) (*models.Manager, error) {
	if catalog == "" {
		catalog = os.Getenv("DICTATE_CATALOG")
	}
	entries, err := models.LoadCatalog(catalog)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	dir := os.Getenv("DICTATE_MODELS_DIR")
	if dir == "" {
		dir = models.DefaultDir()
	}
	return models.New(dir, entries), nil
}

func hasGPU() bool {
	for _, d := range engine.Devices() {
		if d.Kind == engine.DeviceGPU || d.Kind == engine.DeviceIntegratedGPU {
			return true
		}
	}
	return false
}

// resolveModel finds the model file for --model (a path or an installed name), else
// $DICTATE_MODEL, else the default installed model. With none installed it explains, and
// on a terminal offers to download the recommended one.
func (c *CLI) resolveModel(ctx context.Context, spec, language string) (string, error) {
	m, err := c.modelManager("")
	if err != nil {
		return "", err
	}
	if spec != "" {
		return m.Resolve(spec)
	}
	inst, err := m.Default()
	if err == nil {
		return inst.Path, nil
	}
	if !errors.Is(err, models.ErrNotInstalled) {
		return "", err
	}
	name, why := models.Recommend(hasGPU(), language)
	e, _ := models.Find(m.Entries, name)
	fmt.Fprintf(c.Stderr, "No speech model is installed yet. Recommended for this machine: %s (%s, %s).\n", name, models.HumanBytes(e.Size), why)
	if c.Stdin == nil || !c.Interactive {
		return "", noModelError{usageError{fmt.Sprintf("no model: run \"dictate models download %s\" (or pass --model PATH)", name)}, name}
	}
	fmt.Fprintf(c.Stderr, "Download it now into %s? [Y/n] ", m.Dir)
	answer, _ := bufio.NewReader(c.Stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "" && a != "y" && a != "yes" {
		return "", usageError{"no model: choose one with \"dictate models list\" and \"dictate models download NAME\""}
	}
	inst, err = c.downloadWithBar(ctx, m, name)
	if err != nil {
		return "", err
	}
	if err := m.SetDefault(name); err != nil {
		return "", err
	}
	return inst.Path, nil
}

func (c *CLI) downloadWithBar(ctx context.Context, m *models.Manager, name string) (models.Installed, error) {
	var last time.Time
	inst, err := m.Download(ctx, name, func(p models.Progress) {
		if p.Phase == "retrying" { // said on every output: a stalled download must say why
			if c.IsTerminal {
				fmt.Fprintln(c.Stderr)
			}
			fmt.Fprintf(c.Stderr, "%s: %s; trying again in %s\n", p.Name, p.Problem, p.RetryIn.Round(time.Second))
			return
		}
		if !c.IsTerminal || time.Since(last) < 200*time.Millisecond && p.Phase == "downloading" {
			return
		}
		last = time.Now()
		drawDownload(c.Stderr, p)
	})
	if c.IsTerminal {
		fmt.Fprintln(c.Stderr)
	}
	return inst, err
}

func drawDownload(w io.Writer, p models.Progress) {
	if p.Phase == "verifying" {
		fmt.Fprintf(w, "\r%s: verifying…%40s", p.Name, "")
		return
	}
	const width = 30
	if p.Total <= 0 {
		fmt.Fprintf(w, "\r%s: %s at %s/s", p.Name, models.HumanBytes(p.Done), models.HumanBytes(int64(p.Rate)))
		return
	}
	frac := float64(p.Done) / float64(p.Total)
	filled := int(frac * width)
	fmt.Fprintf(w, "\r%s [%s%s] %3.0f%% %s of %s, %s/s, %s left ", p.Name, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, models.HumanBytes(p.Done), models.HumanBytes(p.Total), models.HumanBytes(int64(p.Rate)), p.ETA.Round(time.Second))
}

// modelsCmd: dictate models list|download|import|remove|default.
func (c *CLI) modelsCmd(ctx context.Context, args []string) error {
	fs := c.newFlagSet("models", "models list|download NAME|import PATH|quantize NAME|remove NAME|default NAME [flags]")
	catalog := fs.String("catalog", "", "extra catalog (JSON list of {name, url, size, sha256, arch}); default $DICTATE_CATALOG")
	asJSON := fs.Bool("json", false, "list as JSON")
	name := fs.String("name", "", "import: the name to install under (default: from the file name)")
	link := fs.Bool("link", false, "import: link to the file instead of copying it")
	qtype := fs.String("type", "q8_0", "quantize: q8_0, q5_0, q5_1 or q4_0")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		rest = []string{"list"}
	}
	m, err := c.modelManager(*catalog)
	if err != nil {
		return err
	}
	arg := func() (string, error) {
		if len(rest) != 2 {
			return "", usageError{fmt.Sprintf("models %s needs one argument", rest[0])}
		}
		return rest[1], nil
	}
	switch rest[0] {
	case "list":
		return c.listModels(m, *asJSON)
	case "download":
		n, err := arg()
		if err != nil {
			return err
		}
		inst, err := c.downloadWithBar(ctx, m, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "installed %s: %s, %s, verified by %s, SHA-256 %s\n", inst.Name, inst.Model, models.HumanBytes(inst.Size), inst.Verified, inst.SHA256)
		if _, err := m.DefaultName(); err != nil {
			if err := m.SetDefault(inst.Name); err == nil {
				fmt.Fprintf(c.Stdout, "%s is now the default model\n", inst.Name)
			}
		}
		return nil
	case "import":
		p, err := arg()
		if err != nil {
			return err
		}
		inst, err := m.Import(p, *name, *link)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "imported %s: %s, %s\n", inst.Name, inst.Model, models.HumanBytes(inst.Size))
		return nil
	case "quantize":
		n, err := arg()
		if err != nil {
			return err
		}
		to, err := engine.ParseFileType(*qtype)
		if err != nil {
			return usageError{err.Error()}
		}
		inst, err := m.Quantize(ctx, n, to, func(f float64) {
			if c.IsTerminal {
				fmt.Fprintf(c.Stderr, "\rquantizing %s: %3.0f%%", n, 100*f)
			}
		})
		if c.IsTerminal {
			fmt.Fprintln(c.Stderr)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "installed %s: %s, %s (use it with --model %s or models default %s)\n", inst.Name, inst.Model, models.HumanBytes(inst.Size), inst.Name, inst.Name)
		return nil
	case "remove":
		n, err := arg()
		if err != nil {
			return err
		}
		if err := m.Remove(n); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "removed %s\n", n)
		return nil
	case "default":
		n, err := arg()
		if err != nil {
			return err
		}
		if err := m.SetDefault(n); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s is now the default model\n", n)
		return nil
	}
	return usageError{fmt.Sprintf("unknown models command %q (want list, download, import, quantize, remove or default)", rest[0])}
}

func (c *CLI) listModels(m *models.Manager, asJSON bool) error {
	installed, err := m.List()
	if err != nil {
		return err
	}
	if asJSON {
		out := struct {
			Dir       string             `json:"dir"`
			Installed []models.Installed `json:"installed"`
			Catalog   []models.Entry     `json:"catalog"`
		}{m.Dir, installed, m.Entries}
		if out.Installed == nil {
			out.Installed = []models.Installed{}
		}
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(c.Stdout, "Installed in %s:\n", m.Dir)
	if len(installed) == 0 {
		name, why := models.Recommend(hasGPU(), "en")
		fmt.Fprintf(c.Stdout, "  none — try: dictate models download %s (%s)\n", name, why)
	}
	for _, i := range installed {
		def := ""
		if i.Default {
			def = "  (default)"
		}
		fmt.Fprintf(c.Stdout, "  %-22s %10s  %-12s %s%s\n", i.Name, models.HumanBytes(i.Size), i.Verified, i.Model, def)
	}
	fmt.Fprintln(c.Stdout, "Available:")
	for _, e := range m.Entries {
		lang := "multilingual"
		if e.EnglishOnly {
			lang = "English"
		}
		check := e.Verification()
		fmt.Fprintf(c.Stdout, "  %-22s %10s  %-12s %-6s %5s params, %-5s speed  %s\n", e.Name, models.HumanBytes(e.Size), lang, check, e.Params, e.Speed, e.Notes)
	}
	return nil
}
