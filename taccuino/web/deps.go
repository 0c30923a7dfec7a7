package web

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"fsecgm/cgm/cgmstore"
	"fsecgm/taccuino/consent"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Deps are what the HTTP packages receive from the composition root
// (cmd/fsecgm). Build it once; handlers only read it.
type Deps struct {
	// Logger is the service's logger (JSON to stderr in production).
	// Handlers use Logger(c), which adds the request id.
	Logger *slog.Logger
	// Pool is the database pool, for readiness checks and for packages
	// with tables of their own.
	Pool *pgxpool.Pool
	// Store is the readings store.
	Store *cgmstore.Store
	// Consent is the authorization gate and access log: every access to a
	// patient's data goes through Consent.Access (see Deps.Access).
	Consent *consent.Store
	// Now is the clock; time.Now when nil (see Deps.Clock).
	Now func() time.Time
	// BaseURL is the external URL of the service (https://taccuino.example.org),
	// used for absolute links and the CSRF origin check. Empty means the
	// origin of each request.
	BaseURL string
	// Dev reports development mode (fsecgm serve --dev): the development
	// token issuer is accepted and the demo login page is served.
	Dev bool
	// Lookups is the one rate limit, per client and per patient, of the
	// requests that name a patient by fiscal code or ask about care
	// relationships, shared by every package that serves them (see
	// Lookups); nil limits nothing.
	Lookups *Lookups
}

// Validate reports what is missing in d.
func (d *Deps) Validate() error {
	var missing []string
	if d.Logger == nil {
		missing = append(missing, "Logger")
	}
	if d.Pool == nil {
		missing = append(missing, "Pool")
	}
	if d.Store == nil {
		missing = append(missing, "Store")
	}
	if d.Consent == nil {
		missing = append(missing, "Consent")
	}
	if len(missing) > 0 {
		return errors.New("web: deps: missing " + strings.Join(missing, ", "))
	}
	if d.BaseURL != "" {
		u, err := url.Parse(d.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("web: deps: BaseURL must be an absolute http(s) URL such as https://taccuino.example.org")
		}
	}
	return nil
}

// Clock returns the current time from d.Now, or time.Now.
func (d *Deps) Clock() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Origin returns the scheme://host[:port] of BaseURL, or "" when BaseURL
// is empty.
func (d *Deps) Origin() string {
	if d.BaseURL == "" {
		return ""
	}
	u, err := url.Parse(d.BaseURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
