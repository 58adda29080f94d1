// Package conformance checks CareLedger's FHIR interface from outside, for tests: what it
// serves against the official FHIR R4 JSON schema, and a walk through it by an independent
// FHIR client (fhir-kit-client, in Node), as a clinic system would make it.
//
// Both run in Node with npm packages that .ci/run installs into a cache folder outside the
// repository (never committed): CARELEDGER_NPM_DIR, else
// ${XDG_CACHE_HOME:-$HOME/.cache}/careledger/npm. A test that needs them skips, saying what
// is missing, when node or the packages are not there. The scripts are in node/.
package conformance

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Packages are the npm packages the scripts use, pinned, from node/npm-packages, which
// .ci/run installs.
var Packages = strings.Fields(npmPackages)

//go:embed node/npm-packages
var npmPackages string

// NPMDir returns the folder whose node_modules hold Packages, or an error saying what is
// missing and how to install it.
func NPMDir() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", errors.New("node is not on PATH")
	}
	dir := os.Getenv("CARELEDGER_NPM_DIR")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, "careledger", "npm")
	}
	var missing []string
	for _, p := range Packages {
		at := strings.LastIndex(p, "@")
		var pkg struct{ Version string }
		raw, err := os.ReadFile(filepath.Join(dir, "node_modules", p[:at], "package.json"))
		if err != nil || json.Unmarshal(raw, &pkg) != nil || pkg.Version != p[at+1:] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("npm packages %s (these versions) are not in %s (CARELEDGER_NPM_DIR): .ci/run installs them, or npm install --prefix %q %s",
			strings.Join(missing, ", "), dir, dir, strings.Join(Packages, " "))
	}
	return dir, nil
}

// Require returns NPMDir, or skips the test saying what is missing.
func Require(t testing.TB) string {
	t.Helper()
	dir, err := NPMDir()
	if err != nil {
		t.Skipf("the FHIR conformance checks need Node and npm packages: %v", err)
	}
	return dir
}

// Script returns the path of one of the Node scripts in node/.
func Script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node", name)
}

// Served collects the FHIR resources a server sent, to be checked against the R4 schema at
// once (starting Node and compiling the schema takes seconds, so not one by one). It is safe
// for concurrent use.
type Served struct {
	mu    sync.Mutex
	items []servedItem
}

type servedItem struct {
	Label    string          `json:"label"`
	Resource json.RawMessage `json:"resource"`
}

// Add keeps body if it is a FHIR resource (a JSON object with a resourceType); label says
// where it came from ("GET /fhir/Observation?patient=... 200").
func (s *Served) Add(label string, body []byte) {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if json.Unmarshal(body, &head) != nil || head.ResourceType == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, servedItem{label, json.RawMessage(append([]byte(nil), body...))})
}

// Types lists the resource types collected, once each, in the order first seen.
func (s *Served) Types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, it := range s.items {
		var head struct{ ResourceType string }
		_ = json.Unmarshal(it.Resource, &head)
		if !seen[head.ResourceType] {
			seen[head.ResourceType] = true
			out = append(out, head.ResourceType)
		}
	}
	return out
}

// Check validates everything collected against the FHIR R4 JSON schema, each resource and
// each one nested in it (Bundle entries, contained resources) against its type's
// definition, and fails t with every error. It skips when Node or the packages are missing.
func (s *Served) Check(t testing.TB) {
	t.Helper()
	dir := Require(t)
	s.mu.Lock()
	data, err := json.Marshal(s.items)
	n := len(s.items)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "served.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("node", Script("validate.cjs"), dir, file).CombinedOutput()
	if err != nil {
		t.Fatalf("%d served resources checked against the FHIR R4 JSON schema: %v\n%s", n, err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}
