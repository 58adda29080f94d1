package model

import "time"

// Record is a patient's record as the ledger knows it: no content, only the chain of hashes of
// its encrypted versions and where the ciphertext can be found.
type Record struct {
	ID            string    `json:"id"`
	Owner         string    `json:"owner"`
	Category      string    `json:"category"`
	Versions      int       `json:"versions"`
	LatestHash    string    `json:"latestHash"`
	LatestLocator string    `json:"latestLocator"`
	CreatedBy     Party     `json:"createdBy"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Version is one entry in a record's hash chain. PrevHash is the hash of the version before it
// (empty for version 1), so rewriting any version breaks every link after it.
type Version struct {
	RecordID  string    `json:"recordId"`
	Number    int       `json:"number"`
	Hash      string    `json:"hash"`
	PrevHash  string    `json:"prevHash,omitempty" metadata:",optional"`
	Locator   string    `json:"locator"`
	Author    Party     `json:"author"`
	Via       string    `json:"via,omitempty" metadata:",optional"`
	TxID      string    `json:"txId"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewRecord is the argument of RegisterRecord.
type NewRecord struct {
	ID       string `json:"id"`
	Owner    string `json:"owner"`
	Category string `json:"category"`
	Hash     string `json:"hash"`
	Locator  string `json:"locator"`
}

// NewVersion is the argument of AppendVersion. PrevHash must equal the record's latest hash, so
// two concurrent writers cannot both extend the chain from the same version.
type NewVersion struct {
	RecordID string `json:"recordId"`
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
	Locator  string `json:"locator"`
}

// RecordHistory is a record with all its versions, oldest first.
type RecordHistory struct {
	Record   Record    `json:"record"`
	Versions []Version `json:"versions"`
	// Read is the ledger's decision on the caller reading the record, made with the listing
	// and as CheckAccess(record, "read", "") makes it, when it allows the read (nil when it
	// does not). A gateway releasing a listed page rests each release on it rather than
	// asking again record by record.
	Read *Decision `json:"read,omitempty" metadata:",optional"`
}

// RecordPage is one page of a patient's records.
type RecordPage struct {
	Records  []Record `json:"records"`
	Bookmark string   `json:"bookmark,omitempty" metadata:",optional"`
}

// HistoryPage is one page of a patient's records with their full version chains.
type HistoryPage struct {
	Records  []RecordHistory `json:"records"`
	Bookmark string          `json:"bookmark,omitempty" metadata:",optional"`
}

// Verification is the ledger's answer to "is this the hash of a version of this record?".
type Verification struct {
	RecordID string `json:"recordId"`
	Hash     string `json:"hash"`
	Valid    bool   `json:"valid"`
	Version  int    `json:"version,omitempty" metadata:",optional"`
	Latest   bool   `json:"latest"`
}

// ReadAuthorization is the ledger's answer to "may this caller read this version of this
// record now, and what is it?": the decision and, only when it allows the read, the record and
// the version's metadata, so that a granted read costs one evaluation.
type ReadAuthorization struct {
	Decision Decision `json:"decision"`
	Record   *Record  `json:"record,omitempty" metadata:",optional"`
	Version  *Version `json:"version,omitempty" metadata:",optional"`
}
