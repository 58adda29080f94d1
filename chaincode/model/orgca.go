package model

import "time"

// CACertificates are the certificates an organisation's members' certificates chain to: the
// argument of SetOrgCACertificates. Each entry is one PEM "CERTIFICATE" block.
type CACertificates struct {
	Roots         []string `json:"roots"`
	Intermediates []string `json:"intermediates,omitempty" metadata:",optional"`
}

// OrgCACertificates are an organisation's CA certificates as kept on the ledger. A gateway may
// act for a member of its organisation only when the member's certificate chains to them (a
// gateway's own key is then no longer as good as its organisation's CA key); an organisation
// without them cannot have members acted for. Only the organisation's own admin sets them.
type OrgCACertificates struct {
	MSP string `json:"msp"`
	CACertificates
	// SetBy is the pseudonym of the admin who set them, SetAt the transaction time.
	SetBy string    `json:"setBy"`
	SetAt time.Time `json:"setAt"`
	TxID  string    `json:"txId"`
}
