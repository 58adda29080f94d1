package contract

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"sync"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// maxCACerts bounds each list of an organisation's CA certificates.
const maxCACerts = 16

// SetOrgCACertificates sets the CA certificates of the caller's own organisation: the roots
// and intermediates its members' certificates chain to. A gateway may act for a member only
// when the member's certificate chains to them, so an organisation sets them right after the
// chaincode is committed (until then nobody can be acted for: fail closed) and again when its
// CA rolls over. Only an admin of the organisation, signing directly, may set them, and never
// another organisation's. Emits OrgCACertificatesChanged.
func (c *Contract) SetOrgCACertificates(ctx contractapi.TransactionContextInterface, certificates string) (*model.OrgCACertificates, error) {
	t, err := beginAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var req model.CACertificates
	if err := decode("certificates", certificates, &req); err != nil {
		return nil, err
	}
	if req.Roots, err = t.checkCACerts("roots", req.Roots, 1); err != nil {
		return nil, err
	}
	if req.Intermediates, err = t.checkCACerts("intermediates", req.Intermediates, 0); err != nil {
		return nil, err
	}
	if len(req.Intermediates) == 0 {
		req.Intermediates = nil
	}
	out := &model.OrgCACertificates{MSP: t.caller.MSP, CACertificates: req, SetBy: t.caller.ID, SetAt: t.now, TxID: t.id}
	if err := t.put(t.key(kindOrgCA, t.caller.MSP), out); err != nil {
		return nil, err
	}
	return out, t.emit(model.EventOrgCAChanged, model.Event{Actor: t.caller.ID})
}

// GetOrgCACertificates returns an organisation's CA certificates ("" for the caller's own);
// NOT_FOUND means none are set, and nobody of that organisation can be acted for.
func (c *Contract) GetOrgCACertificates(ctx contractapi.TransactionContextInterface, mspID string) (*model.OrgCACertificates, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if mspID == "" {
		mspID = t.caller.MSP
	}
	if !model.ValidMSPID(mspID) {
		return nil, model.Errorf(model.CodeInvalidArgument, "mspId %q is not a valid MSP ID", mspID)
	}
	var out model.OrgCACertificates
	ok, err := t.get(t.key(kindOrgCA, mspID), &out)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.Errorf(model.CodeNotFound, "no CA certificates are set for %s", mspID)
	}
	return &out, nil
}

// checkCACerts checks a list of PEM CA certificates: min to maxCACerts entries, each exactly
// one certificate that may sign certificates and has not expired, none repeated. It returns
// them re-encoded from their DER, so the stored document does not depend on PEM layout.
func (t *txn) checkCACerts(field string, pems []string, minimum int) ([]string, error) {
	if len(pems) < minimum || len(pems) > maxCACerts {
		return nil, model.Errorf(model.CodeInvalidArgument, "%s must hold %d to %d certificates", field, minimum, maxCACerts)
	}
	out := make([]string, 0, len(pems))
	seen := map[string]bool{}
	for i, p := range pems {
		block, rest := pem.Decode([]byte(p))
		if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
			return nil, model.Errorf(model.CodeInvalidArgument, "%s[%d] must be exactly one PEM CERTIFICATE block", field, i)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, model.Errorf(model.CodeInvalidArgument, "%s[%d] is not a valid certificate", field, i)
		}
		switch {
		case !cert.BasicConstraintsValid || !cert.IsCA:
			return nil, model.Errorf(model.CodeInvalidArgument, "%s[%d] is not a CA certificate", field, i)
		case t.now.After(cert.NotAfter):
			return nil, model.Errorf(model.CodeInvalidArgument, "%s[%d] expired at %s", field, i, cert.NotAfter.UTC().Format(time.RFC3339))
		case seen[string(cert.Raw)]:
			return nil, model.Errorf(model.CodeInvalidArgument, "%s[%d] is repeated", field, i)
		}
		seen[string(cert.Raw)] = true
		out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	}
	return out, nil
}

// orgTrust is an organisation's stored CA certificates, parsed.
type orgTrust struct {
	roots, intermediates *x509.CertPool
	digest               [32]byte // of the stored document
}

// trustCache keeps parsed CA pools by the SHA-256 of the stored document, so that acting for a
// member does not parse the organisation's certificates on every transaction. It is a memo of
// a pure function of ledger state, so every peer computes the same results with or without it.
var trustCache struct {
	sync.Mutex
	byDigest map[[32]byte]*orgTrust
}

// orgTrust returns the organisation's stored CA certificates, or nil if none are set.
func (t *txn) orgTrust(mspID string) (*orgTrust, error) {
	raw, err := t.stub.GetState(t.key(kindOrgCA, mspID))
	if err != nil {
		return nil, model.Errorf(model.CodeInternal, "read state: %v", err)
	}
	if raw == nil {
		return nil, nil
	}
	digest := sha256.Sum256(raw)
	trustCache.Lock()
	defer trustCache.Unlock()
	if tr, ok := trustCache.byDigest[digest]; ok {
		return tr, nil
	}
	var doc model.OrgCACertificates
	if err := unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	tr := &orgTrust{roots: x509.NewCertPool(), intermediates: x509.NewCertPool(), digest: digest}
	for _, list := range []struct {
		pems []string
		pool *x509.CertPool
	}{{doc.Roots, tr.roots}, {doc.Intermediates, tr.intermediates}} {
		for _, p := range list.pems {
			if !list.pool.AppendCertsFromPEM([]byte(p)) {
				return nil, model.Errorf(model.CodeInternal, "stored CA certificates of %s do not parse", mspID)
			}
		}
	}
	if trustCache.byDigest == nil || len(trustCache.byDigest) >= 64 {
		trustCache.byDigest = map[[32]byte]*orgTrust{}
	}
	trustCache.byDigest[digest] = tr
	return tr, nil
}

// verifyMember checks that cert, presented for a member of mspID by someone else (a gateway),
// was issued by that organisation: it must chain to the organisation's CA certificates on the
// ledger and be valid at, and chain through certificates valid at, the time given (a
// transaction time, never a clock). With no CA certificates on the ledger it fails: a gateway
// must never be trusted to vouch for a certificate on its own.
func (t *txn) verifyMember(mspID string, cert *x509.Certificate, at time.Time) error {
	if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
		return model.Errorf(model.CodeUnauthenticated, "the member's certificate is not valid at %s", at.UTC().Format(time.RFC3339))
	}
	tr, err := t.orgTrust(mspID)
	if err != nil {
		return err
	}
	if tr == nil {
		return model.Errorf(model.CodeUnauthenticated, "no CA certificates of %s are on the ledger, so nobody can act for its members: its admin must set them with SetOrgCACertificates", mspID)
	}
	if !tr.chains(cert, at) {
		return model.Errorf(model.CodeUnauthenticated, "the member's certificate does not chain to the CA certificates of %s on the ledger", mspID)
	}
	return nil
}

// validity is when every certificate of one verified chain is valid.
type validity struct{ from, until time.Time }

// chainCache remembers, for a certificate and an organisation's stored CA document, the
// validity of each chain x509 verification found. Signatures do not depend on time, so a chain
// verified once is valid at any time within all its certificates' windows: the answer is the
// one a full verification at that time would give, and a time outside every remembered window
// is verified in full. A gateway acting for the same members over and over then pays for one
// chain verification per member, not one per transaction.
var chainCache struct {
	sync.Mutex
	byKey map[[32]byte][]validity
}

// chains reports whether cert chains to the organisation's CA certificates at time at.
func (tr *orgTrust) chains(cert *x509.Certificate, at time.Time) bool {
	h := sha256.New()
	h.Write(tr.digest[:])
	h.Write(cert.Raw)
	var key [32]byte
	h.Sum(key[:0])
	chainCache.Lock()
	for _, v := range chainCache.byKey[key] {
		if !at.Before(v.from) && !at.After(v.until) {
			chainCache.Unlock()
			return true
		}
	}
	chainCache.Unlock()
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots: tr.roots, Intermediates: tr.intermediates, CurrentTime: at,
		// Fabric identities are signing certificates; Fabric's MSP does not look at EKU.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return false
	}
	found := make([]validity, 0, len(chains))
	for _, chain := range chains {
		v := validity{from: chain[0].NotBefore, until: chain[0].NotAfter}
		for _, c := range chain[1:] {
			if c.NotBefore.After(v.from) {
				v.from = c.NotBefore
			}
			if c.NotAfter.Before(v.until) {
				v.until = c.NotAfter
			}
		}
		found = append(found, v)
	}
	chainCache.Lock()
	if chainCache.byKey == nil || len(chainCache.byKey) >= 4096 {
		chainCache.byKey = map[[32]byte][]validity{}
	}
	chainCache.byKey[key] = found
	chainCache.Unlock()
	return true
}
