// Package fabricca is a client for the REST API of Hyperledger Fabric CA (fabric-ca-server
// v1.5): it registers identities with CareLedger roles as certificate attributes, enrols them
// with keys generated on this side (private keys never leave the process), re-enrols them
// before their certificates expire, and revokes them.
//
// It speaks the protocol directly with net/http and the standard crypto packages instead of
// importing github.com/hyperledger/fabric-ca, whose dependency tree is larger than CareLedger
// itself. Calls that need an enrolled caller (register, re-enrol, revoke) carry Fabric CA's
// token: base64(cert PEM) "." base64(ECDSA signature over
// method "." base64(URI) "." base64(body) "." base64(cert PEM)).
package fabricca
