package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestOpenAPIDocumentsEveryRoute: every chi route is documented with its method, and every
// documented operation exists.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := startEnv(t)
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(api.OpenAPI(), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
			require.Contains(t, op, "responses", "%s %s", method, path)
			require.Contains(t, op, "summary", "%s %s", method, path)
		}
	}
	routed := map[string]bool{}
	h, err := api.New(e.cfg)
	require.NoError(t, err)
	require.NoError(t, chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[method+" "+strings.TrimSuffix(route, "/")] = true
		return nil
	}))
	var undocumented, missing []string
	for r := range routed {
		if !documented[r] {
			undocumented = append(undocumented, r)
		}
	}
	for d := range documented {
		if !routed[d] {
			missing = append(missing, d)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(missing)
	require.Empty(t, undocumented, "routes missing from openapi.yaml")
	require.Empty(t, missing, "documented operations without a route")
}
