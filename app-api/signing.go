package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/careledger/careledger/app-api/offline"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/hyperledger/fabric-gateway/pkg/client"
)

// SelfSignedTransactions are the transactions a person signs with their own key, through
// the offline-signing flow: the chaincode refuses them from a gateway acting for someone.
var SelfSignedTransactions = []string{"Grant", "RevokeGrant", "AddDelegate", "RemoveDelegate", "SetResearchConsent", "RequestErasure", "SetPrivacyBudget"}

// Prepared is a message for the caller to sign on their own device: the serialized message,
// and the digest to sign (SHA-256 of the part Fabric signs; a careful device recomputes it).
type Prepared struct {
	TransactionID string `json:"transactionId"`
	// Function is set on proposals: the transaction that will run.
	Function string `json:"function,omitempty"`
	// Proposal, Transaction or Commit holds the message, depending on the step.
	Proposal    []byte `json:"proposal,omitempty"`
	Transaction []byte `json:"transaction,omitempty"`
	Commit      []byte `json:"commit,omitempty"`
	Digest      []byte `json:"digest"`
	// Result is the transaction's result as endorsed (set after endorsement).
	Result json.RawMessage `json:"result,omitempty"`
}

// Signed is a message coming back from the device with its signature; exactly one of
// Proposal, Transaction and Commit is set, matching the step.
type Signed struct {
	Proposal    []byte `json:"proposal,omitempty"`
	Transaction []byte `json:"transaction,omitempty"`
	Commit      []byte `json:"commit,omitempty"`
	Signature   []byte `json:"signature"`
}

// Committed reports a committed transaction.
type Committed struct {
	TransactionID string `json:"transactionId,omitempty"`
	BlockNumber   uint64 `json:"blockNumber,omitempty"`
	Status        string `json:"status,omitempty"`
	// Erasure is "completed" when the transaction was the caller's erasure request and their
	// key and content have been destroyed, "pending" when that failed and should be retried by
	// sending the commit again.
	Erasure string `json:"erasure,omitempty"`
}

// sdkGateway returns an SDK gateway for the caller's own identity, with no signer: every
// message it handles is signed on the caller's device.
func (s *server) sdkGateway(c *caller) (*ledger.Client, error) {
	id, err := ledger.NewIdentity(c.MSPID, c.CertPEM, nil)
	if err != nil {
		return nil, fmt.Errorf("caller identity: %w", err)
	}
	return s.cfg.Conn.As(id)
}

// prepare builds an unsigned proposal of fn for the caller.
func (s *server) prepare(w http.ResponseWriter, r *http.Request, fn string, args ...string) {
	p, err := s.proposal(callerFrom(r.Context()), fn, args...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// proposal builds an unsigned proposal of fn for the caller, for /v1 and for /fhir's Consent.
func (s *server) proposal(c *caller, fn string, args ...string) (*Prepared, error) {
	lc, err := s.sdkGateway(c)
	if err != nil {
		return nil, err
	}
	p, err := lc.Network().GetContract(s.cfg.Chaincode).NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", fn, err)
	}
	b, err := p.Bytes()
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", fn, err)
	}
	return &Prepared{TransactionID: p.TransactionID(), Function: fn, Proposal: b, Digest: p.Digest()}, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal chaincode argument: %v", err)) // model types always marshal
	}
	return string(b)
}

// prepareGrant prepares Grant. The request is checked here so that a mistake is reported
// before the patient signs anything.
func (s *server) prepareGrant(w http.ResponseWriter, r *http.Request) {
	var g model.GrantRequest
	err := decodeJSON(w, r, &g)
	if err == nil {
		err = queryParams(r).err
	}
	if err == nil {
		if g.ID == "" {
			g.ID = uuid.NewString()
		}
		err = validateGrant(&g)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.prepare(w, r, "Grant", mustJSON(g))
}

func validateGrant(g *model.GrantRequest) error {
	actionsOK := len(g.Actions) > 0
	for _, a := range g.Actions {
		actionsOK = actionsOK && slices.Contains(model.Actions, a)
	}
	catsOK := true
	for _, c := range g.Categories {
		catsOK = catsOK && slices.Contains(model.Categories, c)
	}
	recsOK := true
	for _, id := range g.RecordIDs {
		recsOK = recsOK && model.ValidID(id)
	}
	one := (g.Grantee.ID == "") != (g.Grantee.MSP == "")
	return firstErr(
		checkField(model.ValidID(g.ID), "id", "must be 1-128 letters, digits, '.', '_' or '-'"),
		checkField(g.Patient == "" || model.ValidPseudonym(g.Patient), "patient", "must be a pseudonym (32 lowercase hex digits)"),
		checkField(one, "grantee", "must name exactly one of id and msp"),
		checkField(g.Grantee.ID == "" || model.ValidPseudonym(g.Grantee.ID), "grantee.id", "must be a pseudonym (32 lowercase hex digits)"),
		checkField(g.Grantee.MSP == "" || model.ValidMSPID(g.Grantee.MSP), "grantee.msp", "must be an MSP ID"),
		checkField(actionsOK, "actions", "must list one or more of read, append"),
		checkField(len(g.Categories)+len(g.RecordIDs) > 0, "categories", "or recordIds must name what the grant covers"),
		checkField(catsOK, "categories", "must be record categories"),
		checkField(recsOK, "recordIds", "must be record IDs"),
		checkField(slices.Contains(model.Purposes, g.Purpose), "purpose", "must be an HL7 PurposeOfUse code such as TREAT"),
		checkField(g.ValidUntil == nil || g.ValidFrom == nil || g.ValidUntil.After(*g.ValidFrom), "validUntil", "must be after validFrom"),
		checkField(g.ValidUntil == nil || g.ValidUntil.After(time.Now()), "validUntil", "must be in the future"),
	)
}

// prepareRevoke prepares RevokeGrant.
func (s *server) prepareRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "grantID")
	if err == nil {
		err = queryParams(r).err
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.prepare(w, r, "RevokeGrant", id)
}

// prepareAddDelegate prepares AddDelegate.
func (s *server) prepareAddDelegate(w http.ResponseWriter, r *http.Request) {
	var d model.DelegateRequest
	err := decodeJSON(w, r, &d)
	if err == nil {
		err = queryParams(r).err
	}
	if err == nil {
		err = firstErr(
			checkField(model.ValidPseudonym(d.Delegate), "delegate", "must be a pseudonym (32 lowercase hex digits)"),
			checkField(d.ValidUntil == nil || d.ValidUntil.After(time.Now()), "validUntil", "must be in the future"),
		)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.prepare(w, r, "AddDelegate", mustJSON(d))
}

// prepareRemoveDelegate prepares RemoveDelegate.
func (s *server) prepareRemoveDelegate(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "delegateID")
	err := checkField(model.ValidPseudonym(id), "delegateID", "must be a pseudonym (32 lowercase hex digits)")
	if err == nil {
		err = queryParams(r).err
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.prepare(w, r, "RemoveDelegate", id)
}

// prepareResearchConsent prepares SetResearchConsent.
func (s *server) prepareResearchConsent(w http.ResponseWriter, r *http.Request) {
	var rc model.ResearchConsentRequest
	err := decodeJSON(w, r, &rc)
	if err == nil {
		err = queryParams(r).err
	}
	if err == nil {
		purposesOK := true
		for _, p := range rc.Purposes {
			purposesOK = purposesOK && slices.Contains(model.ResearchPurposes, p)
		}
		err = firstErr(
			checkField(rc.Patient == "" || model.ValidPseudonym(rc.Patient), "patient", "must be a pseudonym (32 lowercase hex digits)"),
			checkField(purposesOK, "purposes", "must be research purposes such as academic-research"),
			checkField(!rc.OptIn || len(rc.Purposes) > 0, "purposes", "must name at least one purpose when opting in"),
			checkField(rc.Until == nil || rc.Until.After(time.Now()), "until", "must be in the future"),
		)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.prepare(w, r, "SetResearchConsent", mustJSON(rc))
}

// prepareErasure prepares RequestErasure.
func (s *server) prepareErasure(w http.ResponseWriter, r *http.Request) {
	if err := queryParams(r).err; err != nil {
		s.writeError(w, r, err)
		return
	}
	s.prepare(w, r, "RequestErasure")
}

// readSigned decodes a signed message and checks that the one part expected is present.
func readSigned(w http.ResponseWriter, r *http.Request, part string) (*Signed, []byte, error) {
	var sm Signed
	if err := decodeJSON(w, r, &sm); err != nil {
		return nil, nil, err
	}
	if err := queryParams(r).err; err != nil {
		return nil, nil, err
	}
	parts := map[string][]byte{"proposal": sm.Proposal, "transaction": sm.Transaction, "commit": sm.Commit}
	for name, b := range parts {
		if name != part && len(b) > 0 {
			return nil, nil, invalid("unexpected field %s: this step takes %s", name, part)
		}
	}
	if len(parts[part]) == 0 {
		return nil, nil, invalid("field %s is required", part)
	}
	if len(sm.Signature) == 0 {
		return nil, nil, invalid("field signature is required")
	}
	return &sm, parts[part], nil
}

// checkMessage applies the checks every step shares: the caller created the message, it is
// for this channel, and the signature is the caller's.
func (s *server) checkMessage(c *caller, part string, creator offline.Identity, channel string, digest, sig []byte) error {
	if !creator.Is(c.MSPID, c.Cert) {
		return errCreator
	}
	if channel != s.cfg.Channel {
		return invalid("field %s is for channel %q, not %q", part, channel, s.cfg.Channel)
	}
	return offline.Verify(c.Cert, digest, sig)
}

// endorse takes a signed proposal and returns the endorsed transaction to sign.
func (s *server) endorse(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	sm, raw, err := readSigned(w, r, "proposal")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := offline.ParseProposal(raw)
	switch {
	case err != nil:
		err = invalid("field proposal: %v", err)
	case p.Chaincode != s.cfg.Chaincode:
		err = invalid("field proposal invokes chaincode %q, not %q", p.Chaincode, s.cfg.Chaincode)
	case !slices.Contains(SelfSignedTransactions, p.Function):
		err = invalid("field proposal invokes %q, which is not signed offline here", p.Function)
	case len(p.Transient) > 0:
		err = invalid("field proposal carries transient data, which consent transactions never do")
	default:
		err = s.checkMessage(c, "proposal", p.Creator, p.Channel, p.Digest, sm.Signature)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lc, err := s.sdkGateway(c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	prop, err := lc.Gateway().NewSignedProposal(raw, sm.Signature)
	if err != nil {
		s.writeError(w, r, invalid("field proposal: %v", err))
		return
	}
	tx, err := prop.EndorseWithContext(r.Context())
	if err != nil {
		s.writeError(w, r, ledger.Translate("endorse "+p.Function, err))
		return
	}
	b, err := tx.Bytes()
	if err != nil {
		s.writeError(w, r, fmt.Errorf("serialize transaction: %w", err))
		return
	}
	out := Prepared{TransactionID: tx.TransactionID(), Transaction: b, Digest: tx.Digest()}
	if res := tx.Result(); json.Valid(res) {
		out.Result = res
	}
	writeJSON(w, http.StatusOK, out)
}

// submit takes a signed transaction, submits it for ordering and returns the commit-status
// request to sign.
func (s *server) submit(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	sm, raw, err := readSigned(w, r, "transaction")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := offline.ParseTransaction(raw)
	if err != nil {
		err = invalid("field transaction: %v", err)
	} else {
		err = s.checkMessage(c, "transaction", t.Creator, t.Channel, t.Digest, sm.Signature)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lc, err := s.sdkGateway(c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tx, err := lc.Gateway().NewSignedTransaction(raw, sm.Signature)
	if err != nil {
		s.writeError(w, r, invalid("field transaction: %v", err))
		return
	}
	commit, err := tx.SubmitWithContext(r.Context())
	if err != nil {
		s.writeError(w, r, ledger.Translate("submit", err))
		return
	}
	b, err := commit.Bytes()
	if err != nil {
		s.writeError(w, r, fmt.Errorf("serialize commit: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, Prepared{TransactionID: commit.TransactionID(), Commit: b, Digest: commit.Digest()})
}

// commit takes a signed commit-status request, waits for the commit and reports it. After the
// caller's own erasure request commits, it completes the erasure (crypto-shredding).
func (s *server) commit(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	sm, raw, err := readSigned(w, r, "commit")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cm, err := offline.ParseCommit(raw)
	if err != nil {
		err = invalid("field commit: %v", err)
	} else {
		err = s.checkMessage(c, "commit", cm.Creator, cm.Channel, cm.Digest, sm.Signature)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lc, err := s.sdkGateway(c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	commit, err := lc.Gateway().NewSignedCommit(raw, sm.Signature)
	if err != nil {
		s.writeError(w, r, invalid("field commit: %v", err))
		return
	}
	st, err := commit.StatusWithContext(r.Context())
	if err != nil {
		s.writeError(w, r, ledger.Translate("commit status", err))
		return
	}
	if !st.Successful {
		s.writeError(w, r, &ledger.CommitError{TxID: st.TransactionID, Code: st.Code})
		return
	}
	out := Committed{TransactionID: st.TransactionID, BlockNumber: st.BlockNumber, Status: st.Code.String()}
	if c.Role == model.RolePatient {
		out.Erasure = s.completeErasure(r.Context(), c)
	}
	writeJSON(w, http.StatusOK, out)
}

// finishErasure completes the calling patient's erasure again, for when it was left pending.
func (s *server) finishErasure(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	if err := queryParams(r).err; err != nil {
		s.writeError(w, r, err)
		return
	}
	gw := s.anyGateway(c.MSPID)
	if gw == nil {
		s.writeError(w, r, fmt.Errorf("%s: %w", c.MSPID, errNoOrgGateway))
		return
	}
	err := s.cfg.Service.CompleteErasure(r.Context(), gw, c.Pseudonym)
	s.reply(w, r, http.StatusOK, Committed{Erasure: "completed"}, err)
}

// completeErasure shreds the caller's key and content if the ledger holds their erasure
// request. The ledger, asked by the organisation's gateway identity, decides; the caller's
// word is not taken for it.
func (s *server) completeErasure(ctx context.Context, c *caller) string {
	gw := s.anyGateway(c.MSPID)
	if gw == nil {
		return ""
	}
	err := s.cfg.Service.CompleteErasure(ctx, gw, c.Pseudonym)
	switch {
	case err == nil:
		return "completed"
	case errors.Is(err, gateway.ErrNotFound):
		return "" // not an erasure: nothing to do
	default:
		s.log.LogAttrs(ctx, slog.LevelError, "complete erasure", slog.String("request_id", requestID(ctx)), slog.String("err", err.Error()))
		return "pending"
	}
}

// anyGateway returns the organisation's gateway identity, or else any configured one: asking
// the ledger whether a patient was erased needs only an identity with a role, and the patient's
// key must be destroyed even if their organisation's gateway is not configured here.
func (s *server) anyGateway(mspID string) *ledger.Client {
	if gw := s.cfg.Orgs[mspID].Gateway; gw != nil {
		return gw
	}
	for _, id := range s.mspIDs {
		if gw := s.cfg.Orgs[id].Gateway; gw != nil {
			return gw
		}
	}
	return nil
}
