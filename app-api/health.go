package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	_ "embed"

	"github.com/careledger/careledger/chaincode/model"
)

// healthz says the process serves requests.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether the ledger answers.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	ready := s.cfg.Ready
	if ready == nil {
		ready = s.ledgerReady
	}
	if err := ready(ctx); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// ledgerReady evaluates GetRolePolicy as the first organisation gateway: any answer from the
// chaincode, even a refusal, means the ledger is reachable.
func (s *server) ledgerReady(ctx context.Context) error {
	for _, id := range s.mspIDs {
		gw := s.cfg.Orgs[id].Gateway
		if gw == nil {
			continue
		}
		_, err := gw.GetRolePolicy(ctx)
		var me *model.Error
		if err == nil || errors.As(err, &me) {
			return nil
		}
		return err
	}
	return errNoOrgGateway
}

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3 document.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPI)
}
