package model

// Party identifies who did something, by pseudonym only.
type Party struct {
	MSP  string `json:"msp"`
	ID   string `json:"id"`
	Role Role   `json:"role"`
}

// ActorTransientKey is the transient-data key under which a gateway identity passes the PEM
// certificate of the member it acts for. Transient data is not written to the ledger; what the
// contract writes records both the member and the gateway (the Via fields). The chaincode reads
// it and the gateway's ledger client sets it: this is its one definition.
const ActorTransientKey = "careledger.actor"

// Caller describes the identity a transaction runs as, as the chaincode sees it.
type Caller struct {
	Party
	// Via is the pseudonym of the gateway identity that acted on the caller's behalf, if any.
	Via string `json:"via,omitempty" metadata:",optional"`
}
