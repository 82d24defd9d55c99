// Command typecheck type-checks the module's packages for another GOOS/GOARCH without that
// system's C toolchain or SDK: `go list` picks each package's files for the target (file
// suffixes and build lines as the go command reads them), and go/types checks them with
// cgo faked (C.anything is accepted, so only the Go side is checked). A missing symbol,
// a file suffix that drops a file (x_darwin_windows.go builds only on Windows) or a
// build-tag slip fails it. The Windows build is checked for real with mingw-w64 (scripts/check).
//
//	go run ./internal/typecheck -os darwin -arch arm64 ./...
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

type listedPackage struct {
	ImportPath string
	Dir        string
	Name       string
	Standard   bool
	GoFiles    []string
	CgoFiles   []string
	ImportMap  map[string]string
	Module     *struct {
		Path      string
		Main      bool
		GoVersion string
	}
	Error *struct{ Err string }
}

func main() {
	goos := flag.String("os", "darwin", "target GOOS")
	goarch := flag.String("arch", "arm64", "target GOARCH")
	tags := flag.String("tags", "", "extra build tags, comma-separated")
	flag.Parse()
	patterns := flag.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	problems, err := check(*goos, *goarch, *tags, patterns, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "typecheck:", err)
		os.Exit(2)
	}
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "typecheck: %d problems for %s/%s\n", problems, *goos, *goarch)
		os.Exit(1)
	}
	fmt.Printf("typecheck: every package type-checks for %s/%s\n", *goos, *goarch)
}

// check lists the packages and their dependencies for the target, type-checks them in
// dependency order and prints the errors found in the main module's packages (a
// dependency's errors only matter through what they break in ours).
func check(goos, goarch, tags string, patterns []string, report io.Writer) (int, error) {
	pkgs, err := list(goos, goarch, tags, patterns)
	if err != nil {
		return 0, err
	}
	sizes := types.SizesFor("gc", goarch)
	if sizes == nil {
		return 0, fmt.Errorf("unknown GOARCH %q", goarch)
	}
	fset := token.NewFileSet()
	checked := map[string]*types.Package{"unsafe": types.Unsafe}
	problems := 0
	for _, p := range pkgs {
		if p.ImportPath == "unsafe" {
			continue
		}
		ours := p.Module != nil && p.Module.Main
		if p.Error != nil && ours {
			fmt.Fprintf(report, "%s: %s\n", p.ImportPath, p.Error.Err)
			problems++
			continue
		}
		var files []*ast.File
		for _, name := range append(append([]string(nil), p.GoFiles...), p.CgoFiles...) {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				if ours {
					fmt.Fprintln(report, err)
					problems++
				}
				continue
			}
			files = append(files, f)
		}
		conf := types.Config{
			Importer:         importer{checked: checked, importMap: p.ImportMap},
			FakeImportC:      true,
			IgnoreFuncBodies: !ours,
			Sizes:            sizes,
			GoVersion:        goVersion(p),
			Error: func(err error) {
				if ours && !isCgoArtefact(err) {
					fmt.Fprintln(report, err)
					problems++
				}
			},
		}
		pkg, _ := conf.Check(p.ImportPath, fset, files, nil)
		checked[p.ImportPath] = pkg
	}
	return problems, nil
}

// isCgoArtefact drops what faking cgo itself causes: a C type is unknown, so a value of one
// has an invalid type, and converting or assigning it cannot be judged.
func isCgoArtefact(err error) bool {
	var te types.Error
	return errors.As(err, &te) && strings.Contains(te.Msg, "invalid type")
}

func goVersion(p listedPackage) string {
	if p.Module != nil && p.Module.GoVersion != "" {
		return "go" + p.Module.GoVersion
	}
	return strings.Split(runtime.Version(), " ")[0]
}

// list runs go list -deps for the target; it needs no C compiler (nothing is compiled).
func list(goos, goarch, tags string, patterns []string) ([]listedPackage, error) {
	args := []string{"list", "-e", "-deps", "-json=ImportPath,Dir,Name,Standard,GoFiles,CgoFiles,ImportMap,Module,Error"}
	if tags != "" {
		args = append(args, "-tags="+tags)
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=1", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// importer hands out the packages already checked (go list -deps orders dependencies first).
type importer struct {
	checked   map[string]*types.Package
	importMap map[string]string
}

func (i importer) Import(path string) (*types.Package, error) { return i.ImportFrom(path, "", 0) }

func (i importer) ImportFrom(path, _ string, _ types.ImportMode) (*types.Package, error) {
	if mapped, ok := i.importMap[path]; ok {
		path = mapped
	}
	if p := i.checked[path]; p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("package %s was not listed for this target", path)
}
