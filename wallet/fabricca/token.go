package fabricca

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
)

// Caller is an enrolled identity authenticating a request: the registrar of a new identity,
// the revoker, or the identity being re-enrolled. *wallet.Identity implements it; so can a
// key held in an HSM or in Vault. The signer must produce low-S ASN.1 ECDSA signatures,
// which Fabric CA requires.
type Caller interface {
	CertificatePEM() []byte
	Signer() crypto.Signer
}

// tokenAuth signs a request the way Fabric CA's lib/client does (util.GenECDSAToken):
// the signature covers the method, the request URI and the body, so a captured token cannot
// be replayed against another endpoint or with another body.
func tokenAuth(caller Caller) auth {
	return func(req *http.Request, body []byte) error {
		tok, err := Token(caller, req.Method, req.URL.RequestURI(), body)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", tok)
		return nil
	}
}

// Token builds the value of the Authorization header for a Fabric CA request.
func Token(caller Caller, method, uri string, body []byte) (string, error) {
	if caller == nil {
		return "", fmt.Errorf("build token: %w: no caller", ErrInvalidRequest)
	}
	b64 := base64.StdEncoding.EncodeToString
	b64cert := b64(caller.CertificatePEM())
	payload := method + "." + b64([]byte(uri)) + "." + b64(body) + "." + b64cert
	digest := sha256.Sum256([]byte(payload))
	sig, err := caller.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("build token: sign: %w", err)
	}
	return b64cert + "." + b64(sig), nil
}
