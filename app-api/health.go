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

// NotReadyError says why the server cannot do its work; /readyz answers 503 NOT_READY with
// the reason, which must name no person and no secret.
type NotReadyError struct {
	Reason string
	Err    error
}

func (e *NotReadyError) Error() string { return "not ready: " + e.Reason }
func (e *NotReadyError) Unwrap() error { return e.Err }

// readyz says whether the local components work and the ledger answers.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if s.cfg.Health != nil {
		if err := s.cfg.Health(); err != nil {
			var nr *NotReadyError
			if !errors.As(err, &nr) {
				err = &NotReadyError{Reason: "a local component has failed", Err: err}
			}
			s.writeError(w, r, err)
			return
		}
	}
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
