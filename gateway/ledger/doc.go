// Package ledger is the typed CareLedger chaincode client. It speaks to any Fabric Gateway
// endpoint (the embedded node or a real peer) through the official fabric-gateway SDK, gives
// every chaincode transaction a Go method with model types in and out, retries only where a
// retry cannot apply a transaction twice (a transaction the peers invalidated for a read
// conflict wrote nothing and is run again as a new one, up to four times), and turns every
// failure into an error callers can branch on: the chaincode's own *model.Error,
// ErrUnavailable, or *CommitError.
package ledger
