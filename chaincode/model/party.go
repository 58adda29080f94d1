package model

// Party identifies who did something, by pseudonym only.
type Party struct {
	MSP  string `json:"msp"`
	ID   string `json:"id"`
	Role Role   `json:"role"`
}

// Caller describes the identity a transaction runs as, as the chaincode sees it.
type Caller struct {
	Party
	// Via is the pseudonym of the gateway identity that acted on the caller's behalf, if any.
	Via string `json:"via,omitempty" metadata:",optional"`
}
