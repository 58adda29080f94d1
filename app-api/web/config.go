package web

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/directory"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/wallet"
)

// Org is one consortium organisation as the web interface knows it.
type Org struct {
	// Name is how the organisation is shown to people, e.g. "City Clinic"; the MSP ID when empty.
	Name string
	// CACerts are the organisation's root CA certificates: a browser certificate that chains to
	// them belongs to this organisation. Without them, certificate sign-in is off for its
	// members.
	CACerts []*x509.Certificate
	// IntermediateCerts are the organisation's intermediate CA certificates, if any.
	IntermediateCerts []*x509.Certificate
	// Gateway is the organisation's policy-enforcement identity (role gateway); a member signed
	// in by certificate reads through Gateway.For(member certificate). Nil means certificate
	// sign-in is off for its members.
	Gateway *ledger.Client
}

// Config wires the web interface to its parts. Wallet, Conn and Service are required.
type Config struct {
	// Wallet holds the encrypted identities people sign in with (a *wallet.Wallet).
	Wallet Wallet
	// Conn is the shared ledger connection; a signed-in identity gets its own client on it.
	Conn *ledger.Conn
	// Service is the policy enforcement point that releases and stores record content.
	Service *gateway.Service
	// Orgs are the consortium's organisations by MSP ID, for display and certificate sign-in.
	Orgs map[string]Org
	// Directory names clinicians (and organisations without an Org.Name); nil shows
	// pseudonyms and MSP IDs, and the clinician's profile page says it is not available.
	Directory Directory
	// CohortFiles serves published cohorts' data files; nil shows downloads as not available.
	CohortFiles CohortFiles
	// Aggregator answers aggregate queries; nil shows queries as not available.
	Aggregator Aggregator
	// SessionIdle ends a session after this long without a request (default 15 minutes).
	SessionIdle time.Duration
	// SessionMax ends a session this long after sign-in whatever happens (default 2 hours).
	SessionMax time.Duration
	// MaxSessions bounds the sessions held in memory (default 1000); sign-in beyond it is
	// refused until sessions expire.
	MaxSessions int
	// TimeZone is where pages write times for a browser that does not say its own zone
	// (the page script tells the server the browser's zone); nil means DefaultTimeZone,
	// Europe/Berlin, or UTC on a machine without a time zone database.
	TimeZone *time.Location
	// MaxUnlocks bounds the wallet unlocks (argon2id key derivations, 64 MiB each by
	// default) that run at once (default 2); four times as many sign-ins may wait for one,
	// and those beyond are refused with 429 at once.
	MaxUnlocks int
	// Logger receives internal errors, which are never shown to people; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Directory is the clinician directory as the pages use it; *directory.Directory implements
// it. The pages ask it as the signed-in person, so its rules on who may read and write hold.
type Directory interface {
	Get(ctx context.Context, by directory.Member, pseudonym string) (*directory.Entry, error)
	Lookup(ctx context.Context, by directory.Member, pseudonyms []string) (map[string]directory.Entry, error)
	Put(ctx context.Context, by directory.Member, pseudonym, enrollmentID string, p directory.Profile) (*directory.Entry, error)
	OrgName(msp string) string
}

// Wallet unlocks the identities people sign in with; *wallet.Wallet is one. Get returns an
// error wrapping wallet.ErrWrongPassphrase, wallet.ErrNotFound or wallet.ErrInvalidLabel for
// what a person got wrong.
type Wallet interface {
	Get(label string, passphrase []byte) (*wallet.Identity, error)
}

// CohortFile describes one data file of a published cohort.
type CohortFile struct {
	Name      string
	MediaType string
	Size      int64
	// SHA256 is the file's digest in lowercase hex; for the dataset it equals the
	// publication's dataset hash on the ledger.
	SHA256 string
}

// CohortFiles serves the data files (CSV, Parquet, reports) of published cohorts. The
// anonymiser implements it; the page has already read the cohort from the ledger as the
// signed-in person before calling it.
type CohortFiles interface {
	// Files lists a cohort's files.
	Files(ctx context.Context, cohort model.Cohort) ([]CohortFile, error)
	// Open opens one file by name; the caller closes it. An unknown name wraps ErrNoSuchFile.
	Open(ctx context.Context, cohort model.Cohort, name string) (io.ReadCloser, CohortFile, error)
}

// ErrNoSuchFile is wrapped by CohortFiles.Open for a name the cohort does not have.
var ErrNoSuchFile = errors.New("no such cohort file")

// AggregateQuery asks for a disclosure-controlled count, sum or mean of a cohort, grouped by
// up to four attributes.
type AggregateQuery struct {
	GroupBy []string
	// Statistic is "count", "sum" or "mean".
	Statistic string
	// Attribute is the numeric attribute summed or averaged; empty for count.
	Attribute string
}

// AggregateRow is one cell of a released aggregate.
type AggregateRow struct {
	// Values are the group's values, one per GroupBy attribute.
	Values []string
	// Value is the released statistic; meaningless when Suppressed.
	Value float64
	// Suppressed marks a cell withheld by disclosure control (for example below the minimum
	// cell size); it is shown as such, never as zero.
	Suppressed bool
}

// AggregateResult is what disclosure control released.
type AggregateResult struct {
	Columns []string
	Rows    []AggregateRow
	// Mechanism says how values were protected, e.g. "laplace" or "min-cell-size".
	Mechanism string
	Epsilon   float64
}

// Aggregator answers aggregate queries on a cohort with disclosure control. The anonymiser
// implements it. A refusal wrapping ErrQueryRefused has its text shown to the person.
type Aggregator interface {
	Aggregate(ctx context.Context, cohort model.Cohort, q AggregateQuery) (*AggregateResult, error)
}

// ErrQueryRefused is wrapped by an Aggregator that refuses a query (budget spent, too few
// rows); its message is meant for the person who asked.
var ErrQueryRefused = errors.New("query refused")
