package records

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fsecgm/taccuino/fhir"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors returned by the package, possibly wrapped. Test with errors.Is.
var (
	// ErrNotFound: the resource, subscription or outbox message does not
	// exist.
	ErrNotFound = errors.New("records: not found")
	// ErrInvalid: an argument is not acceptable; the message says which
	// and why.
	ErrInvalid = errors.New("records: invalid")
	// ErrConflict: the write collides with stored data (an identifier
	// already used for another patient or resource type).
	ErrConflict = errors.New("records: conflict")
)

// Options configure a Store.
type Options struct {
	// Base is the issuer base URL of fsecgm's FHIR API, e.g.
	// "https://fsecgm.example.org/fhir": the root of the identifier
	// systems and fullUrls of every resource fsecgm writes. Required.
	Base string
	// Logger receives warnings (poisoned messages). Nil discards them.
	Logger *slog.Logger
	// Now is the clock of Issued defaults and of consent checks at
	// publication; time.Now when nil. Leases and retry times use the
	// database clock.
	Now func() time.Time
}

// Store is the FHIR resource store and the outbox. It is safe for
// concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	base   string
	logger *slog.Logger
	now    func() time.Time
}

// New returns a store on pool, whose database must be migrated (package
// migrations).
func New(pool *pgxpool.Pool, opts Options) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("records: new: %w: no pool", ErrInvalid)
	}
	// Checked with the mapping's own rule (http(s), host, no query).
	if _, err := fhir.PatientResource(opts.Base, fhir.PatientInfo{ID: "x"}); err != nil {
		return nil, fmt.Errorf("records: new: %w: base URL: %w", ErrInvalid, err)
	}
	s := &Store{pool: pool, base: trimSlash(opts.Base), logger: opts.Logger, now: opts.Now}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Base returns the issuer base URL, without a trailing slash.
func (s *Store) Base() string { return s.base }

// trimSlash removes trailing slashes.
func trimSlash(u string) string {
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u
}
